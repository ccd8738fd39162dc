SELECT load_hour, user_id, url, pageview_datetime, reject_reason AS reason
FROM core.pageviews_extract_checked
WHERE load_hour >= $start AND load_hour < $end AND reject_reason IS NOT NULL
