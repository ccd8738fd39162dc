-- DuckDB: the hours rebuild_pageview_hours.sql just rebuilt, in both answers, for the next
-- publish of the BI database; in the writer's transaction.
INSERT INTO ops.bi_unpublished_hours
SELECT answer, pageview_hour
FROM rebuilt_hours, (VALUES ('postcode_at_view'), ('current_postcode')) AS answers(answer);
