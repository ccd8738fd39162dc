-- bench/history.py: after the days, what the history steps and the merges left across them.

-- The SCD2 versions the history steps wrote (each day's new versions after the day before),
-- closed by the next version; a move on night $days is not in the history yet.
INSERT INTO core.user_postcode_history
SELECT
    user_id,
    postcode,
    CAST($start AS TIMESTAMP) + to_days(valid_day) AS valid_from,
    CASE WHEN next_day < $days THEN CAST($start AS TIMESTAMP) + to_days(next_day) END AS valid_to,
    next_day IS NULL OR next_day >= $days AS is_current,
    version_number
FROM bench_versions
WHERE valid_day < $days
ORDER BY valid_day, user_id;

-- Where each user's views are counted in the current-postcode aggregate: their current
-- version, rewritten by the re-attribution of the night it started.
INSERT INTO agg.current_postcode_by_user
SELECT user_id, postcode, valid_from
FROM core.user_postcode_history
WHERE is_current
ORDER BY valid_from, user_id;

INSERT INTO agg.pageviews_by_postcode_at_view_monthly
SELECT CAST(date_trunc('month', pageview_day) AS TIMESTAMP), postcode, sum(pageviews)
FROM agg.pageviews_by_postcode_at_view_daily
GROUP BY ALL
ORDER BY 1, 2;

INSERT INTO agg.pageviews_by_current_postcode_monthly
SELECT CAST(date_trunc('month', pageview_day) AS TIMESTAMP), postcode, sum(pageviews)
FROM agg.pageviews_by_current_postcode_daily
GROUP BY ALL
ORDER BY 1, 2;

-- Each user's views per month before $recent_from, as the history steps folded them in.
INSERT INTO agg.pageviews_by_user_month
SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP), user_id, sum(view_count)
FROM core.pageview_fact
WHERE pageview_hour < $recent_from
GROUP BY ALL
ORDER BY 1, 2;

-- The current-postcode hours and days start $recent_from (the last night's history step moved
-- it there and dropped the older ones; the monthly rollup above holds every month).
INSERT INTO ops.current_postcode_window VALUES ($recent_from);

DELETE FROM agg.pageviews_by_current_postcode_hourly WHERE pageview_hour < $recent_from;

DELETE FROM agg.pageviews_by_current_postcode_daily WHERE pageview_day < $recent_from;
