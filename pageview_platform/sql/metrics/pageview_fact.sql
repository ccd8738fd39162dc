SELECT
    sum(view_count) AS pageviews,
    count(DISTINCT user_id) AS distinct_users,
    count(*) FILTER (postcode_at_view = 'UNKNOWN') AS unknown_postcode_rows
FROM core.pageview_fact
WHERE pageview_hour >= $start AND pageview_hour < $end
