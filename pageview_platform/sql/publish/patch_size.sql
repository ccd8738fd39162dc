-- Whether a patch is worth it (warehouse/publish.py weighs the two shares against
-- REWRITE_SHARE), read with the file it would patch attached as `published`: the hours it
-- rewrites whole (pending.sql) against the hours the warehouse holds views for (the
-- captures' log, not the aggregates: no scan of history), and the rows the changed cells name
-- (an hour's cell its hour's, day's and month's rows, a month's cell one) against the rows the
-- file holds (its tables' row counts, from their metadata).
SELECT
    (SELECT count(DISTINCT pageview_hour) FROM temp.bi_pending_hours) AS hours_changed,
    (SELECT count(DISTINCT pageview_hour) FROM ops.pageview_load_hours) AS hours_held,
    (
        SELECT coalesce(sum(CASE grain WHEN 'hourly' THEN 3 ELSE 1 END), 0)
        FROM temp.bi_pending_cells
    ) AS cell_rows_changed,
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_hourly)
    + (SELECT count(*) FROM published.pageviews_by_postcode_at_view_daily)
    + (SELECT count(*) FROM published.pageviews_by_postcode_at_view_monthly)
    + (SELECT count(*) FROM published.pageviews_by_current_postcode_hourly)
    + (SELECT count(*) FROM published.pageviews_by_current_postcode_daily)
    + (SELECT count(*) FROM published.pageviews_by_current_postcode_monthly) AS rows_held;
