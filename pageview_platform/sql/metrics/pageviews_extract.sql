-- Late rows belong to hours before the load's; next-hour rows are the normal overlap.
SELECT
    -- Approximate: an exact distinct count costs a third of the capture at full volume.
    approx_count_distinct(user_id) AS approx_distinct_users,
    count(*) FILTER (pageview_datetime < load_hour) AS late_rows,
    count(*) FILTER (pageview_datetime >= load_hour + INTERVAL 1 HOUR) AS next_hour_rows
FROM raw.pageviews_extract
WHERE load_hour = $start
