-- The views the load added, into both hourly aggregates: by the postcode at the time of view,
-- and by each user's current postcode (UNKNOWN for a user in no snapshot).
MERGE INTO pageviews_by_postcode_at_view_hourly AS a
USING (
    SELECT pageview_hour, postcode_at_view AS postcode, sum(added_views) AS delta
    FROM changed_views
    GROUP BY pageview_hour, postcode_at_view
) AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.delta
WHEN NOT MATCHED THEN INSERT VALUES (d.pageview_hour, d.postcode, d.delta);

MERGE INTO pageviews_by_current_postcode_hourly AS a
USING (
    SELECT c.pageview_hour, coalesce(h.postcode, 'UNKNOWN') AS postcode, sum(c.added_views) AS delta
    FROM changed_views AS c
    LEFT JOIN user_postcode_history AS h ON h.user_id = c.user_id AND h.is_current
    GROUP BY c.pageview_hour, coalesce(h.postcode, 'UNKNOWN')
) AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.delta
WHEN NOT MATCHED THEN INSERT VALUES (d.pageview_hour, d.postcode, d.delta);
