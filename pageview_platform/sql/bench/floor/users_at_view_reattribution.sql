-- ../users_at_view_reattribution.sql, with less to read: the views whose postcode at view a
-- new version changes (every view of a new user, a mover's views from $day on) are found with
-- their row in the fact, and updated there, instead of read whole and joined back on identity.
CREATE OR REPLACE TEMP TABLE reattributed_views AS
SELECT
    f.rowid AS fact_row,
    f.pageview_hour,
    f.view_count,
    f.postcode_at_view AS previous_postcode,
    c.postcode
FROM pageview_fact AS f
JOIN changed_users AS c ON c.user_id = f.user_id
WHERE (c.previous_postcode IS NULL OR f.pageview_datetime >= $day)
    AND f.postcode_at_view <> c.postcode;

UPDATE pageview_fact
SET postcode_at_view = r.postcode
FROM reattributed_views AS r
WHERE pageview_fact.rowid = r.fact_row;

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
