-- Moves the daily and monthly rollups of both hourly aggregates by the deltas the merge or the
-- re-attribution staged (at_view_delta, current_delta, current_month_delta), in the caller's
-- transaction, and stages the current-postcode hourly delta (current_recent_delta) that
-- merge_hourly_deltas.sql then applies with at_view_delta to the hourly aggregates (on DuckDB
-- with a published BI database, publish/merge_hourly_deltas_keeping_values.sql, which also
-- keeps the cells' new values for the publish: warehouse/publish.py picks the script).
-- The current-postcode hourly and daily answers start at
-- ops.current_postcode_window's hour (none: every hour): older hours of current_delta move the
-- monthly answer only, which the caller staged whole (the re-attribution's reaches back
-- through every month; its current_delta only through the window).
--
-- The rollup deltas are staged as tables before their MERGEs, not grouped inside them: a
-- stored delta's row count is exact, so the planner builds the join's hash table on the
-- delta and scans the rollup, and the updates reach the rollup in row order. Grouped inline,
-- the delta was estimated larger than a month's rollup, the rollup became the build side,
-- and DuckDB applied a million updates in hash order: 20x slower (docs/performance.md).
CREATE OR REPLACE TEMP TABLE current_recent_delta AS
SELECT d.pageview_hour, d.postcode, d.pageviews
FROM current_delta AS d
WHERE NOT EXISTS (
    SELECT 1 FROM ops.current_postcode_window AS w WHERE d.pageview_hour < w.recent_from
);

CREATE OR REPLACE TEMP TABLE at_view_daily_delta AS
SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day, postcode,
    sum(pageviews) AS pageviews
FROM at_view_delta
GROUP BY 1, 2;

CREATE OR REPLACE TEMP TABLE at_view_monthly_delta AS
SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, postcode,
    sum(pageviews) AS pageviews
FROM at_view_delta
GROUP BY 1, 2;

CREATE OR REPLACE TEMP TABLE current_daily_delta AS
SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day, postcode,
    sum(pageviews) AS pageviews
FROM current_recent_delta
GROUP BY 1, 2;

MERGE INTO agg.pageviews_by_postcode_at_view_daily AS a
USING at_view_daily_delta AS d
ON a.pageview_day = d.pageview_day AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_day, postcode, pageviews)
    VALUES (d.pageview_day, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_postcode_at_view_monthly AS a
USING at_view_monthly_delta AS d
ON a.pageview_month = d.pageview_month AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, postcode, pageviews)
    VALUES (d.pageview_month, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_current_postcode_daily AS a
USING current_daily_delta AS d
ON a.pageview_day = d.pageview_day AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_day, postcode, pageviews)
    VALUES (d.pageview_day, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_current_postcode_monthly AS a
USING current_month_delta AS d
ON a.pageview_month = d.pageview_month AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, postcode, pageviews)
    VALUES (d.pageview_month, d.postcode, d.pageviews);
