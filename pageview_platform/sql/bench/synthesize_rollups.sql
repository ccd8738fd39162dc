-- make bench-publish: the daily and monthly rollups of the synthesized hours
-- (synthesize_hour.sql), in period order as the loads would leave them.
INSERT INTO agg.pageviews_by_postcode_at_view_daily
SELECT date_trunc('day', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_postcode_at_view_hourly GROUP BY ALL ORDER BY 1;
INSERT INTO agg.pageviews_by_postcode_at_view_monthly
SELECT date_trunc('month', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_postcode_at_view_hourly GROUP BY ALL ORDER BY 1;
INSERT INTO agg.pageviews_by_current_postcode_daily
SELECT date_trunc('day', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_current_postcode_hourly GROUP BY ALL ORDER BY 1;
INSERT INTO agg.pageviews_by_current_postcode_monthly
SELECT date_trunc('month', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_current_postcode_hourly GROUP BY ALL ORDER BY 1;
CHECKPOINT;
