-- Late rows belong to hours before the load's; next-hour rows are the normal overlap.
SELECT
    count(DISTINCT user_id) AS distinct_users,
    count(*) FILTER (pageview_datetime < load_hour) AS late_rows,
    count(*) FILTER (pageview_datetime >= load_hour + INTERVAL 1 HOUR) AS next_hour_rows
FROM raw.pageviews_extract
WHERE load_hour = $start
