-- How many loads of the window were ever captured: none means a merge has nothing to do.
SELECT count(DISTINCT load_hour) AS captured_loads
FROM ops.pageview_load_captures
WHERE load_hour >= $start AND load_hour < $end
