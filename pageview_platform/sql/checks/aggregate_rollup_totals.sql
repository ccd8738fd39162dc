-- Per day and month of the hours where the window's loads land their views ([$start - 1h,
-- $end + 1h), as in aggregate_hourly_totals.sql), one aggregate's rollups ($aggregate:
-- 'at_view' or 'current') against its hourly table: the same deltas must have moved all three.
-- A day's rollup is compared with all 24 of its hours, a month's with all its days. The
-- current-postcode hours and days start at ops.current_postcode_window's (at midnight, so a
-- day is whole or absent) while its months reach back through all history: its months are
-- compared with the at-view days, which count the same views (this check's at-view run
-- compares those with their hours).
--
-- Grouping costs several times the scan here (about 24M hourly rows a day, 1M daily rows a
-- day of the month at full volume), so the first day and the first month are each summed
-- without grouping: a single load's window has no other, but around midnight or the turn of a
-- month. Any later ones (those, or a range run's) are grouped. The bounds are expressions of
-- the parameters, which lets the scans skip other periods' row groups.
WITH hourly AS (
    SELECT pageview_hour, pageviews
    FROM agg.pageviews_by_postcode_at_view_hourly
    WHERE $aggregate = 'at_view'
    UNION ALL
    SELECT pageview_hour, pageviews
    FROM agg.pageviews_by_current_postcode_hourly
    WHERE $aggregate = 'current'
),
daily AS (
    SELECT pageview_day, pageviews
    FROM agg.pageviews_by_postcode_at_view_daily
    WHERE $aggregate = 'at_view'
    UNION ALL
    SELECT pageview_day, pageviews
    FROM agg.pageviews_by_current_postcode_daily
    WHERE $aggregate = 'current'
),
month_days AS (
    SELECT pageview_day, pageviews
    FROM agg.pageviews_by_postcode_at_view_daily
),
monthly AS (
    SELECT pageview_month, pageviews
    FROM agg.pageviews_by_postcode_at_view_monthly
    WHERE $aggregate = 'at_view'
    UNION ALL
    SELECT pageview_month, pageviews
    FROM agg.pageviews_by_current_postcode_monthly
    WHERE $aggregate = 'current'
),
hours_by_day AS (
    SELECT
        CAST(date_trunc('day', $start - INTERVAL 1 HOUR) AS TIMESTAMP) AS pageview_day,
        sum(pageviews) AS pageviews
    FROM hourly
    WHERE pageview_hour >= CAST(date_trunc('day', $start - INTERVAL 1 HOUR) AS TIMESTAMP)
        AND pageview_hour
            < CAST(date_trunc('day', $start - INTERVAL 1 HOUR) AS TIMESTAMP) + INTERVAL 1 DAY
    HAVING count(*) > 0
    UNION ALL
    SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP), sum(pageviews)
    FROM hourly
    WHERE pageview_hour
            >= CAST(date_trunc('day', $start - INTERVAL 1 HOUR) AS TIMESTAMP) + INTERVAL 1 DAY
        AND pageview_hour < CAST(date_trunc('day', $end) AS TIMESTAMP) + INTERVAL 1 DAY
    GROUP BY 1
),
days_stored AS (
    SELECT pageview_day, sum(pageviews) AS pageviews
    FROM daily
    WHERE pageview_day >= CAST(date_trunc('day', $start - INTERVAL 1 HOUR) AS TIMESTAMP)
        AND pageview_day < CAST(date_trunc('day', $end) AS TIMESTAMP) + INTERVAL 1 DAY
    GROUP BY pageview_day
),
days_by_month AS (
    SELECT
        CAST(date_trunc('month', $start - INTERVAL 1 HOUR) AS TIMESTAMP) AS pageview_month,
        sum(pageviews) AS pageviews
    FROM month_days
    WHERE pageview_day >= CAST(date_trunc('month', $start - INTERVAL 1 HOUR) AS TIMESTAMP)
        AND pageview_day
            < CAST(date_trunc('month', $start - INTERVAL 1 HOUR) AS TIMESTAMP) + INTERVAL 1 MONTH
    HAVING count(*) > 0
    UNION ALL
    SELECT CAST(date_trunc('month', pageview_day) AS TIMESTAMP), sum(pageviews)
    FROM month_days
    WHERE pageview_day
            >= CAST(date_trunc('month', $start - INTERVAL 1 HOUR) AS TIMESTAMP) + INTERVAL 1 MONTH
        AND pageview_day < CAST(date_trunc('month', $end) AS TIMESTAMP) + INTERVAL 1 MONTH
    GROUP BY 1
),
months_stored AS (
    SELECT pageview_month, sum(pageviews) AS pageviews
    FROM monthly
    WHERE pageview_month >= CAST(date_trunc('month', $start - INTERVAL 1 HOUR) AS TIMESTAMP)
        AND pageview_month < CAST(date_trunc('month', $end) AS TIMESTAMP) + INTERVAL 1 MONTH
    GROUP BY pageview_month
)
SELECT
    (SELECT count(*) FROM days_stored) AS days,
    (
        SELECT count(*)
        FROM hours_by_day AS h
        FULL JOIN days_stored AS d ON d.pageview_day = h.pageview_day
        WHERE h.pageviews IS DISTINCT FROM d.pageviews
    ) AS mismatched_days,
    (
        SELECT count(*)
        FROM days_by_month AS d
        FULL JOIN months_stored AS m ON m.pageview_month = d.pageview_month
        WHERE d.pageviews IS DISTINCT FROM m.pageviews
    ) AS mismatched_months
