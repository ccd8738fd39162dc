-- DuckDB: the hours the deltas apply_aggregate_deltas.sql just applied moved, per answer, for
-- the next publish of the BI database; in the writer's transaction. The current-postcode
-- months are recorded by their first hour: a re-attribution moves months before the window of
-- its hourly delta (the publish then reads that hour and day again too, unchanged).
INSERT INTO ops.bi_unpublished_hours
SELECT DISTINCT 'postcode_at_view', pageview_hour FROM at_view_delta
UNION ALL
SELECT DISTINCT 'current_postcode', pageview_hour FROM current_delta
UNION ALL
SELECT DISTINCT 'current_postcode', pageview_month FROM current_month_delta;
