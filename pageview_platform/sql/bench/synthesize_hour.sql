-- make bench-publish: hour $hour of the synthesized history, every postcode with views in both
-- hourly aggregates, written hour after hour as the loads write them: one INSERT of every hour
-- would leave each row group spanning every hour, where a warehouse the loads wrote keeps each
-- hour's rows together (and the publish's bounded scans skip the other periods' row groups).
INSERT INTO agg.pageviews_by_postcode_at_view_hourly
SELECT $start + to_hours($hour), 'P' || lpad(p::VARCHAR, 7, '0'), 1 + (p + $hour) % 7
FROM range($postcodes) AS codes(p);
INSERT INTO agg.pageviews_by_current_postcode_hourly
SELECT pageview_hour, postcode, pageviews + 1 FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageview_hour = $start + to_hours($hour);
-- One capture per hour, as the loads' log would hold them.
INSERT INTO ops.pageview_load_hours VALUES ($start + to_hours($hour), $start + to_hours($hour));
