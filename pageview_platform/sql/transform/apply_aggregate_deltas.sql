-- Moves both hourly aggregates by the deltas the merge or the re-attribution staged
-- (at_view_delta, current_delta), in the caller's transaction.
MERGE INTO agg.pageviews_by_postcode_at_view_hourly AS a
USING at_view_delta AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_hour, postcode, pageviews)
    VALUES (d.pageview_hour, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_current_postcode_hourly AS a
USING current_delta AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_hour, postcode, pageviews)
    VALUES (d.pageview_hour, d.postcode, d.pageviews);
