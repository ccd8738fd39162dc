-- bench/history.py: the days on which the two answers, or an answer and the fact, count a
-- different number of pageviews (each pageview counted once in each answer; the current
-- postcode's days from $recent_from on), and the months on which they do.
WITH current_postcode AS (
    SELECT period_start, sum(pageviews) AS pageviews
    FROM bi.pageviews_by_current_postcode_daily
    GROUP BY period_start
),
at_view AS (
    SELECT period_start, sum(pageviews) AS pageviews
    FROM bi.pageviews_by_postcode_at_view_daily
    GROUP BY period_start
),
fact AS (
    SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
        sum(view_count) AS pageviews
    FROM core.pageview_fact
    GROUP BY 1
),
current_months AS (
    SELECT period_start, sum(pageviews) AS pageviews
    FROM bi.pageviews_by_current_postcode_monthly
    GROUP BY period_start
),
fact_months AS (
    SELECT CAST(date_trunc('month', period_start) AS TIMESTAMP) AS period_start,
        sum(pageviews) AS pageviews
    FROM fact
    GROUP BY 1
)
SELECT
    count(*) FILTER (
        coalesce(f.period_start, v.period_start) >= $recent_from
        AND c.pageviews IS DISTINCT FROM v.pageviews
    ) AS days_answers_differ,
    count(*) FILTER (
        coalesce(f.period_start, v.period_start) >= $recent_from
        AND f.pageviews IS DISTINCT FROM c.pageviews
    ) AS days_differ_from_fact,
    count(*) FILTER (v.pageviews IS DISTINCT FROM f.pageviews) AS days_at_view_differ_from_fact,
    count(*) FILTER (
        coalesce(f.period_start, v.period_start) < $recent_from AND c.period_start IS NOT NULL
    ) AS current_days_before_window,
    (
        SELECT count(*)
        FROM fact_months AS fm
        FULL JOIN current_months AS cm ON cm.period_start = fm.period_start
        WHERE fm.pageviews IS DISTINCT FROM cm.pageviews
    ) AS months_differ_from_fact
FROM fact AS f
FULL JOIN current_postcode AS c ON c.period_start = f.period_start
FULL JOIN at_view AS v ON v.period_start = coalesce(f.period_start, c.period_start)
