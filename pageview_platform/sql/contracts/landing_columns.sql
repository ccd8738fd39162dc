-- The columns a landing table has now, to hold against the extract's contract before a capture.
SELECT column_name, data_type
FROM information_schema.columns
WHERE table_catalog = current_database() AND table_schema = 'landing' AND table_name = $table
ORDER BY ordinal_position
