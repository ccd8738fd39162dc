-- The pageview hours this capture of the load touches that no earlier capture did: the hour of
-- every captured row with a time, valid or not. Read from the capture itself, one column, not
-- from the validation view (1.6 s a full-volume load): an hour only a quarantined row reaches
-- is rebuilt for nothing if the load is replaced, and a replay that admits the row needs it.
-- The hours are made distinct before they are compared with the log: correlated on every
-- captured row instead, the comparison took 0.5 to 1 s of a full-volume load, against 0.04 s.
INSERT INTO ops.pageview_load_hours
SELECT h.load_hour, h.pageview_hour
FROM (
    SELECT DISTINCT load_hour, date_trunc('hour', pageview_datetime) AS pageview_hour
    FROM raw.pageviews_extract
    WHERE load_hour = $start AND pageview_datetime IS NOT NULL
) AS h
WHERE NOT EXISTS (
    SELECT 1
    FROM ops.pageview_load_hours AS l
    WHERE l.load_hour = h.load_hour AND l.pageview_hour = h.pageview_hour
)
