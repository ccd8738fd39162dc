-- DuckDB: the current-postcode hours current_postcode_window.sql just dropped, for the next
-- publish of the BI database (it drops them, and their days, from the file too); in the
-- history step's transaction.
INSERT INTO ops.bi_unpublished_hours
SELECT 'current_postcode', pageview_hour FROM aged_current_hours;
