-- Changed users' pageviews leave their previous current postcode (UNKNOWN for a new user) for
-- the new one, hour by hour; nobody else's counts move.
MERGE INTO pageviews_by_current_postcode_hourly AS a
USING (
    WITH moved AS (
        SELECT
            f.pageview_hour,
            coalesce(c.previous_postcode, 'UNKNOWN') AS previous_postcode,
            c.postcode,
            sum(f.view_count) AS pageviews
        FROM pageview_fact AS f
        JOIN changed_users AS c ON c.user_id = f.user_id
        GROUP BY ALL
    )
    SELECT pageview_hour, postcode, sum(pageviews) AS delta
    FROM (
        SELECT pageview_hour, postcode, pageviews FROM moved
        UNION ALL
        SELECT pageview_hour, previous_postcode, -pageviews FROM moved
    )
    GROUP BY pageview_hour, postcode
    HAVING sum(pageviews) <> 0
) AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED AND a.pageviews + d.delta = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.delta
WHEN NOT MATCHED THEN INSERT VALUES (d.pageview_hour, d.postcode, d.delta)
