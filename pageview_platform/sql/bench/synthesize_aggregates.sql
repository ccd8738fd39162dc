-- make bench-publish: both hourly aggregates with every postcode in every hour, and their
-- daily and monthly rollups, straight into a scratch warehouse.
INSERT INTO agg.pageviews_by_postcode_at_view_hourly
SELECT $start + to_hours(h), 'P' || lpad(p::VARCHAR, 7, '0'), 1 + (p + h) % 7
FROM range($hours) AS hours(h), range($postcodes) AS codes(p);
INSERT INTO agg.pageviews_by_current_postcode_hourly
SELECT pageview_hour, postcode, pageviews + 1 FROM agg.pageviews_by_postcode_at_view_hourly;
INSERT INTO agg.pageviews_by_postcode_at_view_daily
SELECT date_trunc('day', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_postcode_at_view_hourly GROUP BY ALL;
INSERT INTO agg.pageviews_by_postcode_at_view_monthly
SELECT date_trunc('month', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_postcode_at_view_hourly GROUP BY ALL;
INSERT INTO agg.pageviews_by_current_postcode_daily
SELECT date_trunc('day', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_current_postcode_hourly GROUP BY ALL;
INSERT INTO agg.pageviews_by_current_postcode_monthly
SELECT date_trunc('month', pageview_hour), postcode, sum(pageviews)
FROM agg.pageviews_by_current_postcode_hourly GROUP BY ALL;
-- One capture per hour, as the loads' log would hold them.
INSERT INTO ops.pageview_load_hours
SELECT $start + to_hours(h), $start + to_hours(h) FROM range($hours) AS hours(h);
