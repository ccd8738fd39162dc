SELECT f.pageview_hour, coalesce(h.postcode, 'UNKNOWN') AS postcode, sum(f.view_count) AS pageviews
FROM core.pageview_fact AS f
LEFT JOIN core.user_postcode_history AS h ON h.user_id = f.user_id AND h.is_current
WHERE f.pageview_hour >= $start AND f.pageview_hour < $end
GROUP BY f.pageview_hour, coalesce(h.postcode, 'UNKNOWN')
