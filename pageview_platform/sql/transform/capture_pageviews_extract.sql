-- The landing load, verbatim, as the load of the partition's hour. Ordered by view time so
-- the fact's per-hour reads skip most row groups, late rows included.
SELECT CAST($start AS TIMESTAMP) AS load_hour, user_id, url, pageview_datetime
FROM landing.pageviews_extract
ORDER BY pageview_datetime
