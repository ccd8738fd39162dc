-- The comments of the warehouse's bi views and their columns (sql/views/20_bi.sql), which the
-- published tables carry over: the text is written once.
SELECT view_name AS relation, NULL AS column_name, comment
FROM duckdb_views()
WHERE schema_name = 'bi' AND database_name = current_database() AND comment IS NOT NULL
UNION ALL
SELECT c.table_name, c.column_name, c.comment
FROM duckdb_columns() AS c
INNER JOIN duckdb_views() AS v
    ON v.database_name = c.database_name AND v.schema_name = c.schema_name AND v.view_name = c.table_name
WHERE c.schema_name = 'bi' AND c.database_name = current_database() AND c.comment IS NOT NULL
ORDER BY relation, column_name NULLS FIRST;
