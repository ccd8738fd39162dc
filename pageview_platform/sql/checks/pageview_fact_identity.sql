-- One row per pageview identity (user_id, url, pageview_datetime) in the hours the window's
-- loads touched, keys and postcode present.
WITH hours AS (
    SELECT DISTINCT pageview_hour
    FROM ops.pageview_load_hours
    WHERE load_hour >= $start AND load_hour < $end
),
window_rows AS (
    SELECT * FROM core.pageview_fact WHERE pageview_hour IN (SELECT pageview_hour FROM hours)
)
SELECT
    count(*) AS fact_rows,
    count(DISTINCT user_id) AS distinct_users,
    coalesce(sum(view_count), 0) AS views,
    count(*) FILTER (postcode_at_view = 'UNKNOWN') AS unknown_postcode_rows,
    count(*) - count(DISTINCT (user_id, url, pageview_datetime)) AS duplicate_identities,
    count(*) FILTER (
        pageview_hour IS NULL OR user_id IS NULL OR url IS NULL OR pageview_datetime IS NULL
    ) AS null_key_rows,
    count(*) FILTER (postcode_at_view IS NULL) AS missing_postcode_rows
FROM window_rows
