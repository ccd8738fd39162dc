-- Distinct pageviews viewed inside the window, each counted max over loads of its
-- multiplicity within a load, with the postcode the user had on the day of the view.
WITH per_load AS (
    SELECT load_hour, user_id, url, pageview_datetime, count(*) AS views_in_load
    FROM core.pageviews_extract_checked
    WHERE pageview_datetime >= $start AND pageview_datetime < $end AND reject_reason IS NULL
    GROUP BY load_hour, user_id, url, pageview_datetime
),
pageview AS (
    SELECT user_id, url, pageview_datetime, max(views_in_load) AS view_count
    FROM per_load
    GROUP BY user_id, url, pageview_datetime
),
attribution AS (
    -- A view before the user's first snapshot takes the first snapshot's postcode.
    SELECT
        user_id,
        postcode,
        CASE
            WHEN version_number = 1 THEN CAST('0001-01-01' AS TIMESTAMP) ELSE valid_from
        END AS attributed_from,
        coalesce(valid_to, CAST('9999-12-31' AS TIMESTAMP)) AS attributed_to
    FROM core.user_postcode_history
)
SELECT
    date_trunc('hour', p.pageview_datetime) AS pageview_hour,
    p.user_id,
    p.url,
    p.pageview_datetime,
    p.view_count,
    coalesce(a.postcode, 'UNKNOWN') AS postcode_at_view
FROM pageview AS p
LEFT JOIN attribution AS a
    ON a.user_id = p.user_id
    AND p.pageview_datetime >= a.attributed_from
    AND p.pageview_datetime < a.attributed_to
