-- Moves both hourly aggregates, and their daily and monthly rollups, by the deltas the merge
-- or the re-attribution staged (at_view_delta, current_delta), in the caller's transaction.
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

MERGE INTO agg.pageviews_by_postcode_at_view_daily AS a
USING (
    SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day, postcode,
        sum(pageviews) AS pageviews
    FROM at_view_delta
    GROUP BY 1, 2
) AS d
ON a.pageview_day = d.pageview_day AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_day, postcode, pageviews)
    VALUES (d.pageview_day, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_postcode_at_view_monthly AS a
USING (
    SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, postcode,
        sum(pageviews) AS pageviews
    FROM at_view_delta
    GROUP BY 1, 2
) AS d
ON a.pageview_month = d.pageview_month AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, postcode, pageviews)
    VALUES (d.pageview_month, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_current_postcode_daily AS a
USING (
    SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day, postcode,
        sum(pageviews) AS pageviews
    FROM current_delta
    GROUP BY 1, 2
) AS d
ON a.pageview_day = d.pageview_day AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_day, postcode, pageviews)
    VALUES (d.pageview_day, d.postcode, d.pageviews);

MERGE INTO agg.pageviews_by_current_postcode_monthly AS a
USING (
    SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, postcode,
        sum(pageviews) AS pageviews
    FROM current_delta
    GROUP BY 1, 2
) AS d
ON a.pageview_month = d.pageview_month AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, postcode, pageviews)
    VALUES (d.pageview_month, d.postcode, d.pageviews);
