-- One published table's rows ({table}, which warehouse/publish.py names), and of them those in
-- the periods this publish rewrote (a plain count(*) reads the table's metadata; the periods'
-- count skips the other row groups).
SELECT
    (SELECT count(*) FROM published.{table}) AS row_count,
    (
        SELECT count(*) FROM published.{table}
        WHERE period_start IN (
            SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view
        )
    ) AS rows_written;
