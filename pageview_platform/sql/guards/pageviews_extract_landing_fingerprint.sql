-- The landing load's fingerprint, as the capture log and the capture guard compute it.
SELECT
    count(*) AS landing_rows,
    CAST(coalesce(sum(hash(user_id, url, pageview_datetime)), 0) AS VARCHAR) AS landing_hash
FROM landing.pageviews_extract
