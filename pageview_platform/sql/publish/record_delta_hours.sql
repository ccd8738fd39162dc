-- DuckDB: the hours the deltas apply_aggregate_deltas.sql just applied moved, per answer, for
-- the next publish of the BI database; in the writer's transaction.
INSERT INTO ops.bi_unpublished_hours
SELECT DISTINCT 'postcode_at_view', pageview_hour FROM at_view_delta
UNION ALL
SELECT DISTINCT 'current_postcode', pageview_hour FROM current_delta;
