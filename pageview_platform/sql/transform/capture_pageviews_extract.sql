-- The landing load, verbatim, as the load of the partition's hour.
SELECT CAST($start AS TIMESTAMP) AS load_hour, user_id, url, pageview_datetime
FROM landing.pageviews_extract
