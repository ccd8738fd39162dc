-- The columns a landing table has now, to hold against the extract's contract before a capture.
-- Snowflake reports names in upper case and its own type names (NUMBER, TEXT, TIMESTAMP_NTZ).
SELECT lower(column_name) AS column_name, upper(data_type) AS data_type, numeric_scale
FROM information_schema.columns
WHERE table_catalog = current_database()
    AND lower(table_schema) = 'landing'
    AND lower(table_name) = $table
ORDER BY ordinal_position
