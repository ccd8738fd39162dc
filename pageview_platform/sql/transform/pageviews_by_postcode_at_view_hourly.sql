SELECT pageview_hour, postcode_at_view AS postcode, sum(view_count) AS pageviews
FROM core.pageview_fact
WHERE pageview_hour >= $start AND pageview_hour < $end
GROUP BY pageview_hour, postcode_at_view
