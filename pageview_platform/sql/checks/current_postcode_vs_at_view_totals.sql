-- Per hour where the window's loads land their views ([$start - 1h, $end + 1h), as in
-- aggregate_hourly_totals.sql), both questions count the same pageviews, only per other
-- postcodes.
WITH current_postcode AS (
    SELECT pageview_hour, sum(pageviews) AS pageviews
    FROM agg.pageviews_by_current_postcode_hourly
    WHERE pageview_hour >= $start - INTERVAL 1 HOUR AND pageview_hour < $end + INTERVAL 1 HOUR
    GROUP BY pageview_hour
),
at_view AS (
    SELECT pageview_hour, sum(pageviews) AS pageviews
    FROM agg.pageviews_by_postcode_at_view_hourly
    WHERE pageview_hour >= $start - INTERVAL 1 HOUR AND pageview_hour < $end + INTERVAL 1 HOUR
    GROUP BY pageview_hour
)
SELECT
    count(*) AS hours,
    coalesce(sum(c.pageviews), 0) AS pageviews,
    coalesce(sum(v.pageviews), 0) AS at_view_pageviews,
    count(*) FILTER (c.pageviews IS DISTINCT FROM v.pageviews) AS mismatched_hours
FROM current_postcode AS c
FULL JOIN at_view AS v ON v.pageview_hour = c.pageview_hour
-- The current-postcode hours start at ops.current_postcode_window's (older ones are answered by
-- month: aggregate_rollup_totals.sql compares those months with the at-view days).
WHERE NOT EXISTS (
    SELECT 1
    FROM ops.current_postcode_window AS w
    WHERE coalesce(c.pageview_hour, v.pageview_hour) < w.recent_from
)
