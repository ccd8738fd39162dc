-- Moves both hourly aggregates by the deltas staged for them (at_view_delta, and
-- current_recent_delta, which apply_aggregate_deltas.sql staged), in the caller's transaction.
MERGE INTO agg.pageviews_by_postcode_at_view_hourly AS a
USING at_view_delta AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_hour, postcode, pageviews)
    VALUES (d.pageview_hour, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_current_postcode_hourly AS a
USING current_recent_delta AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_hour, postcode, pageviews)
    VALUES (d.pageview_hour, d.postcode, d.pageviews);
