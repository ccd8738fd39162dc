-- The periods of each published table that the hours this publish rewrites whole reach
-- (temp.bi_pending_hours, pending.sql): the hour itself, its day and its month, in the answer
-- that changed.
CREATE OR REPLACE TEMP TABLE bi_changed_periods AS
WITH hours AS (
    SELECT DISTINCT answer, pageview_hour FROM temp.bi_pending_hours
),
periods AS (
    SELECT answer, 'hourly' AS grain, pageview_hour AS period_start FROM hours
    UNION
    SELECT answer, 'daily', CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) FROM hours
    UNION
    SELECT answer, 'monthly', CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) FROM hours
)
SELECT 'pageviews_by_' || answer || '_' || grain AS view_name, period_start
FROM periods;
