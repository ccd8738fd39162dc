-- DuckDB: what the deltas apply_aggregate_deltas.sql and merge_hourly_deltas_keeping_values.sql
-- just applied changed, per answer, for the next publish of the BI database; in the writer's
-- transaction. The hourly cells are those merge_hourly_deltas_keeping_values.sql moved
-- (hourly_values: each with its delta and new value; the current-postcode ones are those its
-- hourly answer holds, current_recent_delta). A zero delta changed nothing.

-- The hours each delta moved, with how many of their rows: an hour in which it moved at least
-- half the rows the aggregate now holds for it (a load's own hour, where nearly every postcode
-- has views) is recorded whole, as a rebuilt hour is: the publish reads it whole, with its day
-- and month, for less than its cells would cost to record and to look up one by one.
CREATE OR REPLACE TEMP TABLE bi_delta_hours AS
WITH moved AS (
    SELECT answer, pageview_hour, count(*) AS cells
    FROM hourly_values
    WHERE delta <> 0
    GROUP BY answer, pageview_hour
),
held AS (
    SELECT 'postcode_at_view' AS answer, pageview_hour, count(*) AS held
    FROM agg.pageviews_by_postcode_at_view_hourly
    WHERE pageview_hour IN (SELECT pageview_hour FROM moved WHERE answer = 'postcode_at_view')
    GROUP BY pageview_hour
    UNION ALL
    SELECT 'current_postcode', pageview_hour, count(*)
    FROM agg.pageviews_by_current_postcode_hourly
    WHERE pageview_hour IN (SELECT pageview_hour FROM moved WHERE answer = 'current_postcode')
    GROUP BY pageview_hour
)
SELECT m.answer, m.pageview_hour, 2 * m.cells >= coalesce(h.held, 0) AS whole
FROM moved AS m
LEFT JOIN held AS h ON h.answer = m.answer AND h.pageview_hour = m.pageview_hour;

INSERT INTO ops.bi_unpublished_hours (answer, pageview_hour)
SELECT answer, pageview_hour FROM bi_delta_hours WHERE whole;

-- The other hours' cells: a period and a postcode of one answer (an hour's cell names its hour,
-- day and month for the postcode). The current-postcode months are recorded as months alone,
-- but for those a whole hour rewrites: a re-attribution and a late row before the window move
-- months whose hours and days the answer does not hold. An hour's cell carries the hour's new
-- value (hourly_values); a month's reads its value back at the publish.
INSERT INTO ops.bi_unpublished_cells (answer, grain, period_start, postcode, pageviews)
SELECT v.answer, 'hourly', v.pageview_hour, v.postcode, v.pageviews
FROM hourly_values AS v
WHERE v.delta <> 0
    AND EXISTS (
        SELECT 1 FROM bi_delta_hours AS h
        WHERE h.answer = v.answer AND h.pageview_hour = v.pageview_hour AND NOT h.whole
    )
UNION ALL
SELECT 'current_postcode', 'monthly', pageview_month, postcode, NULL
FROM current_month_delta
WHERE pageviews <> 0
    AND pageview_month NOT IN (
        SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP)
        FROM bi_delta_hours
        WHERE answer = 'current_postcode' AND whole
    );
