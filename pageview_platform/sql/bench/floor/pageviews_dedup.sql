-- The load's valid rows, one per identity with its multiplicity in the load (identical rows in
-- one load are separate views). Bad rows are skipped by the rules ../pageviews_dedup_attribution.sql
-- applies.
CREATE OR REPLACE TEMP TABLE load_views AS
SELECT
    date_trunc('hour', pageview_datetime) AS pageview_hour,
    user_id,
    url,
    pageview_datetime,
    count(*) AS view_count
FROM captured_pageviews
WHERE load_hour = $load_hour
    AND user_id IS NOT NULL
    AND url IS NOT NULL
    AND NOT regexp_full_match(url, '[ \t\n\r\f\x0B]*')
    AND length(url) <= 4096
    AND pageview_datetime >= $start_date
    AND pageview_datetime < CAST($load_hour AS TIMESTAMP) + INTERVAL 2 HOUR
GROUP BY user_id, url, pageview_datetime
