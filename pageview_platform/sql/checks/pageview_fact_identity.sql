-- One row per pageview identity (user_id, url, pageview_datetime) in the window's own hours,
-- where its loads put nearly all their rows, keys and postcode present. (Counting distinct
-- identities over every hour a load's late rows reach would cost more than the merge.)
WITH window_rows AS (
    SELECT * FROM core.pageview_fact WHERE pageview_hour >= $start AND pageview_hour < $end
)
SELECT
    count(*) AS fact_rows,
    approx_count_distinct(user_id) AS approx_distinct_users,
    coalesce(sum(view_count), 0) AS views,
    count(*) FILTER (postcode_at_view = 'UNKNOWN') AS unknown_postcode_rows,
    count(*) - count(DISTINCT (user_id, url, pageview_datetime)) AS duplicate_identities,
    count(*) FILTER (
        pageview_hour IS NULL OR user_id IS NULL OR url IS NULL OR pageview_datetime IS NULL
    ) AS null_key_rows,
    count(*) FILTER (postcode_at_view IS NULL) AS missing_postcode_rows
FROM window_rows
