-- Whether a patch is worth it (warehouse/publish.py weighs the two shares against
-- REWRITE_SHARE), read with the copy of the last file attached as `published`: the hours
-- changed whole since the last publish against the hours the warehouse holds views for (the
-- captures' log, not the aggregates: no scan of history), and the rows the changed cells name
-- (an hour's cell its hour's, day's and month's rows, a month's cell one) against the rows the
-- file holds (its tables' row counts, from their metadata).
SELECT
    (SELECT count(DISTINCT pageview_hour) FROM ops.bi_unpublished_hours) AS hours_changed,
    (SELECT count(DISTINCT pageview_hour) FROM ops.pageview_load_hours) AS hours_held,
    (
        SELECT coalesce(sum(CASE grain WHEN 'hourly' THEN 3 ELSE 1 END), 0)
        FROM ops.bi_unpublished_cells
    ) AS cell_rows_changed,
    (SELECT count(*) FROM published.pageviews_by_postcode_at_view_hourly)
    + (SELECT count(*) FROM published.pageviews_by_postcode_at_view_daily)
    + (SELECT count(*) FROM published.pageviews_by_postcode_at_view_monthly)
    + (SELECT count(*) FROM published.pageviews_by_current_postcode_hourly)
    + (SELECT count(*) FROM published.pageviews_by_current_postcode_daily)
    + (SELECT count(*) FROM published.pageviews_by_current_postcode_monthly) AS rows_held;
