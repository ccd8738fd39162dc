-- One published table ({table}, which warehouse/publish.py names) in a copy of the last file,
-- attached as `published`: its changed cells (view_cells.sql) deleted, then written again from
-- the values the writers recorded with them (an hour's new value: none written when it went
-- to 0, as the view holds no such row); read_cells.sql reads back the cells that carry none.
-- The scan is bounded by the cells' first and last period ($first, $last), so it skips the row
-- groups of every other period of the file (which grows with history).
DELETE FROM published.{table} AS p
WHERE p.period_start BETWEEN $first AND $last
    AND EXISTS (
        SELECT 1 FROM temp.bi_view_cells AS c
        WHERE c.period_start = p.period_start AND c.postcode = p.postcode
    );

INSERT INTO published.{table} (period_start, postcode, pageviews)
SELECT period_start, postcode, pageviews FROM temp.bi_view_cells WHERE pageviews > 0;
