-- The BI contract: period_start, postcode, pageviews; read from the pre-aggregated tables only:
-- the hourly aggregates and their daily and monthly rollups (no summing at query time).
-- Rows a re-attribution brought to zero stay in the tables and are hidden here.

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_daily AS
SELECT pageview_day AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_daily
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_monthly AS
SELECT pageview_month AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_monthly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_hourly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_daily AS
SELECT pageview_day AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_daily
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_monthly AS
SELECT pageview_month AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_monthly
WHERE pageviews > 0;
