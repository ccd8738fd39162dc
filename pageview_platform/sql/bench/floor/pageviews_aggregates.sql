-- The views the load added, into both hourly aggregates. At view: new views under their
-- postcode, raised counts under the postcode the fact holds them under. Current: the user's
-- current postcode (UNKNOWN for a user in no snapshot), looked up only for views not taken
-- by the user's current version (late views of movers) and raised counts.
MERGE INTO pageviews_by_postcode_at_view_hourly AS a
USING (
    SELECT pageview_hour, postcode, sum(added_views) AS delta
    FROM (
        SELECT pageview_hour, postcode_at_view AS postcode, view_count AS added_views
        FROM new_views
        UNION ALL
        SELECT pageview_hour, postcode_at_view, view_count - previous_count
        FROM known_views
        WHERE view_count > previous_count
    )
    GROUP BY pageview_hour, postcode
) AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.delta
WHEN NOT MATCHED THEN INSERT VALUES (d.pageview_hour, d.postcode, d.delta);

MERGE INTO pageviews_by_current_postcode_hourly AS a
USING (
    WITH elsewhere AS (
        SELECT pageview_hour, user_id, view_count AS added_views
        FROM new_views
        WHERE NOT at_current_version
        UNION ALL
        SELECT pageview_hour, user_id, view_count - previous_count
        FROM known_views
        WHERE view_count > previous_count
    )
    SELECT pageview_hour, postcode, sum(added_views) AS delta
    FROM (
        SELECT pageview_hour, postcode_at_view AS postcode, view_count AS added_views
        FROM new_views
        WHERE at_current_version
        UNION ALL
        SELECT e.pageview_hour, coalesce(h.postcode, 'UNKNOWN'), e.added_views
        FROM elsewhere AS e
        LEFT JOIN user_postcode_history AS h ON h.user_id = e.user_id AND h.is_current
    )
    GROUP BY pageview_hour, postcode
) AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.delta
WHEN NOT MATCHED THEN INSERT VALUES (d.pageview_hour, d.postcode, d.delta);
