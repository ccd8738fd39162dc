-- A new published BI database, attached as `published` (warehouse/publish.py): each bi view as a
-- table of the same name and columns (in the aggregates' own order, mostly by period already:
-- sorting costs more than half the publish), and one row saying what it holds. The tables sit
-- in the file's `main` schema: DuckDB names a file's catalog after it, so in `bi.duckdb` they
-- read as `bi.<view>`, as in the warehouse (a `bi` schema in a `bi` catalog would make every
-- `bi.<view>` ambiguous).
CREATE TABLE published.pageviews_by_postcode_at_view_hourly AS
SELECT * FROM bi.pageviews_by_postcode_at_view_hourly;
CREATE TABLE published.pageviews_by_postcode_at_view_daily AS
SELECT * FROM bi.pageviews_by_postcode_at_view_daily;
CREATE TABLE published.pageviews_by_postcode_at_view_monthly AS
SELECT * FROM bi.pageviews_by_postcode_at_view_monthly;
CREATE TABLE published.pageviews_by_current_postcode_hourly AS
SELECT * FROM bi.pageviews_by_current_postcode_hourly;
CREATE TABLE published.pageviews_by_current_postcode_daily AS
SELECT * FROM bi.pageviews_by_current_postcode_daily;
CREATE TABLE published.pageviews_by_current_postcode_monthly AS
SELECT * FROM bi.pageviews_by_current_postcode_monthly;
