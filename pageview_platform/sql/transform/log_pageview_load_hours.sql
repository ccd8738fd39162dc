-- The pageview hours this capture of the load touches that no earlier capture did: the hour of
-- every captured row with a time, valid or not. Read from the capture itself, one column, not
-- from the validation view (1.6 s a full-volume load): an hour only a quarantined row reaches
-- is rebuilt for nothing if the load is replaced, and a replay that admits the row needs it.
INSERT INTO ops.pageview_load_hours
SELECT DISTINCT c.load_hour, date_trunc('hour', c.pageview_datetime)
FROM raw.pageviews_extract AS c
WHERE c.load_hour = $start
    AND c.pageview_datetime IS NOT NULL
    AND NOT EXISTS (
        SELECT 1
        FROM ops.pageview_load_hours AS l
        WHERE l.load_hour = c.load_hour
            AND l.pageview_hour = date_trunc('hour', c.pageview_datetime)
    )
