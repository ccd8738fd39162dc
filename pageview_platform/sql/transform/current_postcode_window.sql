-- Moves the start of the current-postcode hourly and daily answers from $previous_from to
-- $recent_from (the history step's: PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS before the latest
-- snapshot, never back) and drops the hours and days before it, in the history step's
-- transaction. Before it, the current postcode is answered by month only: a night's moves then
-- reach the recent hours and days and a few rows a user per month, not every past hour a mover
-- has (issue 16). The merge, the rebuild and the re-attribution read the start from
-- ops.current_postcode_window.

-- The views the window leaves (a day a night) join each user's views per month before it.
CREATE OR REPLACE TEMP TABLE folded_user_months AS
SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, user_id,
    sum(view_count) AS pageviews
FROM core.pageview_fact
WHERE pageview_hour >= $previous_from AND pageview_hour < $recent_from
GROUP BY 1, 2;

MERGE INTO agg.pageviews_by_user_month AS a
USING folded_user_months AS d
ON a.pageview_month = d.pageview_month AND a.user_id = d.user_id
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, user_id, pageviews)
    VALUES (d.pageview_month, d.user_id, d.pageviews);

CREATE OR REPLACE TEMP TABLE aged_current_hours AS
SELECT DISTINCT pageview_hour
FROM agg.pageviews_by_current_postcode_hourly
WHERE pageview_hour < $recent_from;

DELETE FROM agg.pageviews_by_current_postcode_hourly WHERE pageview_hour < $recent_from;

DELETE FROM agg.pageviews_by_current_postcode_daily WHERE pageview_day < $recent_from;

DELETE FROM ops.current_postcode_window;

INSERT INTO ops.current_postcode_window (recent_from) VALUES ($recent_from);
