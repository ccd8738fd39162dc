SELECT sum(pageviews) AS pageviews, count(DISTINCT postcode) AS postcodes
FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageview_hour >= $start AND pageview_hour < $end
