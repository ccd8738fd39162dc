-- Per hour the window's loads touched, one aggregate's pageviews ($aggregate: 'at_view' or 'current')
-- against the fact's view_count.
WITH hours AS (
    SELECT DISTINCT pageview_hour
    FROM ops.pageview_load_hours
    WHERE load_hour >= $start AND load_hour < $end
),
fact AS (
    SELECT pageview_hour, sum(view_count) AS views
    FROM core.pageview_fact
    WHERE pageview_hour IN (SELECT pageview_hour FROM hours)
    GROUP BY pageview_hour
),
aggregate AS (
    SELECT pageview_hour, sum(pageviews) AS pageviews
    FROM agg.pageviews_by_postcode_at_view_hourly
    WHERE $aggregate = 'at_view' AND pageview_hour IN (SELECT pageview_hour FROM hours)
    GROUP BY pageview_hour
    UNION ALL
    SELECT pageview_hour, sum(pageviews) AS pageviews
    FROM agg.pageviews_by_current_postcode_hourly
    WHERE $aggregate = 'current' AND pageview_hour IN (SELECT pageview_hour FROM hours)
    GROUP BY pageview_hour
)
SELECT
    count(*) AS hours,
    coalesce(sum(f.views), 0) AS fact_views,
    coalesce(sum(a.pageviews), 0) AS pageviews,
    count(*) FILTER (f.views IS DISTINCT FROM a.pageviews) AS mismatched_hours
FROM fact AS f
FULL JOIN aggregate AS a ON a.pageview_hour = f.pageview_hour
