-- A load holds mostly views of its own hour (and the next hour's first minutes); one whose rows
-- all fall outside [load hour, load hour + 2h) was ingested under the wrong hour. Its late rows
-- still count in their own hours, but its capture sits in the wrong partition and the load of
-- the hour it names may be missing.
SELECT
    count(*) AS loads_outside_their_window,
    coalesce(sum(captured_rows), 0) AS rows_outside_their_window
FROM (
    SELECT load_hour, count(*) AS captured_rows
    FROM raw.pageviews_extract
    WHERE load_hour >= $start AND load_hour < $end
    GROUP BY load_hour
    HAVING count(*) FILTER (
        pageview_datetime >= load_hour AND pageview_datetime < load_hour + INTERVAL 2 HOUR
    ) = 0
) AS misplaced
