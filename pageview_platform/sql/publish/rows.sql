-- The rows of each published table, and of them those in the periods this publish rewrote
-- (a plain count(*) reads the table's metadata; the periods' count skips other row groups).
SELECT 'pageviews_by_postcode_at_view_hourly' AS view_name,
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_hourly) AS row_count,
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_hourly WHERE period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_hourly'
    )) AS rows_written
UNION ALL
SELECT 'pageviews_by_postcode_at_view_daily',
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_daily),
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_daily WHERE period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_daily'
    ))
UNION ALL
SELECT 'pageviews_by_postcode_at_view_monthly',
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_monthly),
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_monthly WHERE period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_monthly'
    ))
UNION ALL
SELECT 'pageviews_by_current_postcode_hourly',
    (SELECT count(*) FROM published.pageviews_by_current_postcode_hourly),
    (SELECT count(*) FROM published.pageviews_by_current_postcode_hourly WHERE period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_hourly'
    ))
UNION ALL
SELECT 'pageviews_by_current_postcode_daily',
    (SELECT count(*) FROM published.pageviews_by_current_postcode_daily),
    (SELECT count(*) FROM published.pageviews_by_current_postcode_daily WHERE period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_daily'
    ))
UNION ALL
SELECT 'pageviews_by_current_postcode_monthly',
    (SELECT count(*) FROM published.pageviews_by_current_postcode_monthly),
    (SELECT count(*) FROM published.pageviews_by_current_postcode_monthly WHERE period_start IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_monthly'
    ));
