-- The landing load, verbatim, as the load of $load_hour.
INSERT INTO captured_pageviews
SELECT CAST($load_hour AS TIMESTAMP), user_id, url, pageview_datetime
FROM warehouse.landing.pageviews_extract
