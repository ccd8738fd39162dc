-- One row per pageview identity (user_id, url, pageview_datetime) in the window, keys and
-- postcode present.
WITH window_rows AS (
    SELECT * FROM core.pageview_fact WHERE pageview_hour >= $start AND pageview_hour < $end
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
