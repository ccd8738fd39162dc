-- bench/history.py: the days on which the two answers, or an answer and the fact, count a
-- different number of pageviews (each pageview counted once in each answer).
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
)
SELECT
    count(*) FILTER (c.pageviews IS DISTINCT FROM v.pageviews) AS days_answers_differ,
    count(*) FILTER (f.pageviews IS DISTINCT FROM c.pageviews) AS days_differ_from_fact
FROM fact AS f
FULL JOIN current_postcode AS c ON c.period_start = f.period_start
FULL JOIN at_view AS v ON v.period_start = coalesce(f.period_start, c.period_start)
