-- The changed cells of one published table ({table}) that carry no value (view_cells.sql),
-- read back from the warehouse's view of the same name, which holds no row for a cell whose
-- views went to 0, after patch_cells.sql deleted them from the file. The scan is bounded by
-- their first and last period ($first, $last), so it skips the row groups of every other
-- period of the aggregates (which grow with history).
INSERT INTO published.{table}
SELECT v.* FROM bi.{table} AS v
WHERE v.period_start BETWEEN $first AND $last
    AND EXISTS (
        SELECT 1 FROM temp.bi_view_cells AS c
        WHERE c.pageviews IS NULL AND c.period_start = v.period_start AND c.postcode = v.postcode
    );
