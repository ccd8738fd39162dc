-- What merging the window's loads changed, for the UI's plots.
SELECT
    count(*) FILTER (is_new) AS new_pageviews,
    count(*) FILTER (NOT is_new) AS raised_pageviews,
    coalesce(sum(added_views), 0) AS added_views,
    count(*) FILTER (is_new AND pageview_hour < CAST($start AS TIMESTAMP) - INTERVAL 1 HOUR)
        AS late_pageviews,
    count(*) FILTER (is_new AND postcode_at_view = 'UNKNOWN') AS unknown_postcode_pageviews,
    count(DISTINCT pageview_hour) AS hours_touched
FROM merge_changes
