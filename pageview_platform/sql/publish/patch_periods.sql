-- One published table ({table}, which warehouse/publish.py names) in a copy of the last file,
-- attached as `published`: its periods that changed whole (changed_periods.sql, view_cells.sql)
-- deleted, then read again from the warehouse's view of the same name. Both scans are bounded
-- by those periods' first and last ($first, $last: view_periods.sql), so they skip the row
-- groups of every other period of the file and of the aggregates (both grow with history).
DELETE FROM published.{table}
WHERE period_start BETWEEN $first AND $last
    AND period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view
    );

INSERT INTO published.{table}
SELECT * FROM bi.{table}
WHERE period_start BETWEEN $first AND $last
    AND period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view
    );
