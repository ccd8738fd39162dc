-- A new version covers views already in the fact: every view of a new user (views before a
-- user's first version take it) and a mover's views from $day on. Those views change their
-- postcode at view, and their counts move between the at-view aggregate's postcodes.
CREATE OR REPLACE TEMP TABLE reattributed_views AS
SELECT
    f.pageview_hour,
    f.user_id,
    f.url,
    f.pageview_datetime,
    f.view_count,
    f.postcode_at_view AS previous_postcode,
    c.postcode
FROM pageview_fact AS f
JOIN changed_users AS c ON c.user_id = f.user_id
WHERE (c.previous_postcode IS NULL OR f.pageview_datetime >= $day)
    AND f.postcode_at_view <> c.postcode;

UPDATE pageview_fact AS f
SET postcode_at_view = r.postcode
FROM reattributed_views AS r
WHERE f.user_id = r.user_id AND f.url = r.url AND f.pageview_datetime = r.pageview_datetime;

MERGE INTO pageviews_by_postcode_at_view_hourly AS a
USING (
    SELECT pageview_hour, postcode, sum(pageviews) AS delta
    FROM (
        SELECT pageview_hour, postcode, view_count AS pageviews FROM reattributed_views
        UNION ALL
        SELECT pageview_hour, previous_postcode, -view_count FROM reattributed_views
    )
    GROUP BY pageview_hour, postcode
    HAVING sum(pageviews) <> 0
) AS d
ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode
WHEN MATCHED AND a.pageviews + d.delta = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.delta
WHEN NOT MATCHED THEN INSERT VALUES (d.pageview_hour, d.postcode, d.delta);
