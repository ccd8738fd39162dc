-- Per day and month the window's loads touched, one aggregate's rollups ($aggregate: 'at_view'
-- or 'current') against its hourly table: the same deltas must have moved all three.
WITH days AS (
    SELECT DISTINCT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day
    FROM ops.pageview_load_hours
    WHERE load_hour >= $start AND load_hour < $end
),
months AS (
    SELECT DISTINCT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) AS pageview_month
    FROM days
),
hourly AS (
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
    SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day,
        sum(pageviews) AS pageviews
    FROM hourly
    -- The range lets the scan skip other days' row groups; the IN keeps only touched days.
    WHERE pageview_hour >= (SELECT min(pageview_day) FROM days)
        AND pageview_hour < (SELECT max(pageview_day) FROM days) + INTERVAL 1 DAY
        AND CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) IN (SELECT pageview_day FROM days)
    GROUP BY 1
),
days_stored AS (
    SELECT pageview_day, sum(pageviews) AS pageviews
    FROM daily
    WHERE pageview_day IN (SELECT pageview_day FROM days)
    GROUP BY 1
),
days_by_month AS (
    SELECT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) AS pageview_month,
        sum(pageviews) AS pageviews
    FROM daily
    WHERE pageview_day >= (SELECT min(pageview_month) FROM months)
        AND CAST(date_trunc('month', pageview_day) AS TIMESTAMP)
            IN (SELECT pageview_month FROM months)
    GROUP BY 1
),
months_stored AS (
    SELECT pageview_month, sum(pageviews) AS pageviews
    FROM monthly
    WHERE pageview_month IN (SELECT pageview_month FROM months)
    GROUP BY 1
)
SELECT
    (SELECT count(*) FROM days) AS days,
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
