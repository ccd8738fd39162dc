-- One published table ({table}, which warehouse/publish.py names) in a copy of the last file,
-- attached as `published`: its changed cells (view_cells.sql) deleted, then read again from the
-- warehouse's view of the same name, which holds no row for a cell whose views went to 0. Both
-- scans are bounded by the cells' first and last period ($first, $last), so they skip the row
-- groups of every other period of the file and of the aggregates (both grow with history).
DELETE FROM published.{table} AS p
WHERE p.period_start BETWEEN $first AND $last
    AND EXISTS (
        SELECT 1 FROM temp.bi_view_cells AS c
        WHERE c.period_start = p.period_start AND c.postcode = p.postcode
    );

INSERT INTO published.{table}
SELECT v.* FROM bi.{table} AS v
WHERE v.period_start BETWEEN $first AND $last
    AND EXISTS (
        SELECT 1 FROM temp.bi_view_cells AS c
        WHERE c.period_start = v.period_start AND c.postcode = v.postcode
    );
