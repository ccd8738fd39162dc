-- bench/history.py: for each of the six BI views, the rows of [$from, $to) (whole months) that
-- it and the recomputation from the history (expected_views.sql) do not share, and the views
-- whose stored postcode at view is not the recomputed one; the current-postcode hours and days
-- from $recent_from on (older ones are answered by month). Every column counts violations.
WITH
expected_postcode_at_view_hourly AS (
    SELECT
        pageview_hour AS period_start,
        postcode_at_view AS postcode,
        sum(view_count) AS pageviews
    FROM bench_expected_views
    GROUP BY ALL
),
stored_postcode_at_view_hourly AS (
    SELECT period_start, postcode, pageviews
    FROM bi.pageviews_by_postcode_at_view_hourly
    WHERE period_start >= $from AND period_start < $to
),
expected_postcode_at_view_daily AS (
    SELECT
        CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
        postcode_at_view AS postcode,
        sum(view_count) AS pageviews
    FROM bench_expected_views
    GROUP BY ALL
),
stored_postcode_at_view_daily AS (
    SELECT period_start, postcode, pageviews
    FROM bi.pageviews_by_postcode_at_view_daily
    WHERE period_start >= $from AND period_start < $to
),
expected_postcode_at_view_monthly AS (
    SELECT
        CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS period_start,
        postcode_at_view AS postcode,
        sum(view_count) AS pageviews
    FROM bench_expected_views
    GROUP BY ALL
),
stored_postcode_at_view_monthly AS (
    SELECT period_start, postcode, pageviews
    FROM bi.pageviews_by_postcode_at_view_monthly
    WHERE period_start >= $from AND period_start < $to
),
expected_current_postcode_hourly AS (
    SELECT
        pageview_hour AS period_start,
        current_postcode AS postcode,
        sum(view_count) AS pageviews
    FROM bench_expected_views
    WHERE pageview_hour >= $recent_from
    GROUP BY ALL
),
stored_current_postcode_hourly AS (
    SELECT period_start, postcode, pageviews
    FROM bi.pageviews_by_current_postcode_hourly
    WHERE period_start >= $from AND period_start < $to
),
expected_current_postcode_daily AS (
    SELECT
        CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
        current_postcode AS postcode,
        sum(view_count) AS pageviews
    FROM bench_expected_views
    WHERE pageview_hour >= $recent_from
    GROUP BY ALL
),
stored_current_postcode_daily AS (
    SELECT period_start, postcode, pageviews
    FROM bi.pageviews_by_current_postcode_daily
    WHERE period_start >= $from AND period_start < $to
),
expected_current_postcode_monthly AS (
    SELECT
        CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS period_start,
        current_postcode AS postcode,
        sum(view_count) AS pageviews
    FROM bench_expected_views
    GROUP BY ALL
),
stored_current_postcode_monthly AS (
    SELECT period_start, postcode, pageviews
    FROM bi.pageviews_by_current_postcode_monthly
    WHERE period_start >= $from AND period_start < $to
)
SELECT
    (
        SELECT count(*) FROM (
            (FROM expected_postcode_at_view_hourly EXCEPT ALL FROM stored_postcode_at_view_hourly)
            UNION ALL
            (FROM stored_postcode_at_view_hourly EXCEPT ALL FROM expected_postcode_at_view_hourly)
        ) AS differing
    ) AS postcode_at_view_hourly,
    (
        SELECT count(*) FROM (
            (FROM expected_postcode_at_view_daily EXCEPT ALL FROM stored_postcode_at_view_daily)
            UNION ALL
            (FROM stored_postcode_at_view_daily EXCEPT ALL FROM expected_postcode_at_view_daily)
        ) AS differing
    ) AS postcode_at_view_daily,
    (
        SELECT count(*) FROM (
            (FROM expected_postcode_at_view_monthly EXCEPT ALL FROM stored_postcode_at_view_monthly)
            UNION ALL
            (FROM stored_postcode_at_view_monthly EXCEPT ALL FROM expected_postcode_at_view_monthly)
        ) AS differing
    ) AS postcode_at_view_monthly,
    (
        SELECT count(*) FROM (
            (FROM expected_current_postcode_hourly EXCEPT ALL FROM stored_current_postcode_hourly)
            UNION ALL
            (FROM stored_current_postcode_hourly EXCEPT ALL FROM expected_current_postcode_hourly)
        ) AS differing
    ) AS current_postcode_hourly,
    (
        SELECT count(*) FROM (
            (FROM expected_current_postcode_daily EXCEPT ALL FROM stored_current_postcode_daily)
            UNION ALL
            (FROM stored_current_postcode_daily EXCEPT ALL FROM expected_current_postcode_daily)
        ) AS differing
    ) AS current_postcode_daily,
    (
        SELECT count(*) FROM (
            (FROM expected_current_postcode_monthly EXCEPT ALL FROM stored_current_postcode_monthly)
            UNION ALL
            (FROM stored_current_postcode_monthly EXCEPT ALL FROM expected_current_postcode_monthly)
        ) AS differing
    ) AS current_postcode_monthly,
    (
        SELECT count(*) FROM bench_expected_views
        WHERE stored_postcode_at_view <> postcode_at_view
    ) AS wrong_fact_postcode_at_view
