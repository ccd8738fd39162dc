-- Per hour where the window's loads land their views, one aggregate's pageviews ($aggregate:
-- 'at_view' or 'current') against the fact's view_count: the window's hours and the hour on
-- either side, which a load's extract overlaps ([$start - 1h, $end + 1h); nearly all its rows,
-- every kind of change it makes, and its late rows of the hour before).
--
-- Not every hour the loads touched: late rows reach a day back, and a fact hour's rows lie in
-- the row groups of every load that wrote to it, so summing those hours reads a day of the fact
-- (about 100M rows at full volume, seconds per check) to compare a few thousand views an hour.
-- The late rows go through the same statements as the rest, checked in the hour before.
WITH fact AS (
    SELECT pageview_hour, sum(view_count) AS views
    FROM core.pageview_fact
    WHERE pageview_hour >= $start - INTERVAL 1 HOUR AND pageview_hour < $end + INTERVAL 1 HOUR
    GROUP BY pageview_hour
),
aggregate AS (
    SELECT pageview_hour, sum(pageviews) AS pageviews
    FROM agg.pageviews_by_postcode_at_view_hourly
    WHERE $aggregate = 'at_view'
        AND pageview_hour >= $start - INTERVAL 1 HOUR
        AND pageview_hour < $end + INTERVAL 1 HOUR
    GROUP BY pageview_hour
    UNION ALL
    SELECT pageview_hour, sum(pageviews) AS pageviews
    FROM agg.pageviews_by_current_postcode_hourly
    WHERE $aggregate = 'current'
        AND pageview_hour >= $start - INTERVAL 1 HOUR
        AND pageview_hour < $end + INTERVAL 1 HOUR
    GROUP BY pageview_hour
)
SELECT
    count(*) AS hours,
    coalesce(sum(f.views), 0) AS fact_views,
    coalesce(sum(a.pageviews), 0) AS pageviews,
    count(*) FILTER (f.views IS DISTINCT FROM a.pageviews) AS mismatched_hours
FROM fact AS f
FULL JOIN aggregate AS a ON a.pageview_hour = f.pageview_hour
-- The current-postcode hours start at ops.current_postcode_window's (a load of an older hour
-- moves its month only).
WHERE $aggregate = 'at_view' OR NOT EXISTS (
    SELECT 1
    FROM ops.current_postcode_window AS w
    WHERE coalesce(f.pageview_hour, a.pageview_hour) < w.recent_from
)
