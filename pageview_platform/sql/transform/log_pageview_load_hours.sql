-- The pageview hours this capture of the load touches that no earlier capture did.
INSERT INTO ops.pageview_load_hours
SELECT DISTINCT c.load_hour, date_trunc('hour', c.pageview_datetime)
FROM core.pageviews_extract_checked AS c
WHERE c.load_hour = $start
    AND c.reject_reason IS NULL
    AND NOT EXISTS (
        SELECT 1
        FROM ops.pageview_load_hours AS l
        WHERE l.load_hour = c.load_hour
            AND l.pageview_hour = date_trunc('hour', c.pageview_datetime)
    )
