-- Loads of the window captured with more than one content: their hours need a rebuild.
SELECT count(*) AS replaced_loads
FROM (
    SELECT load_hour
    FROM ops.pageview_load_captures
    WHERE load_hour >= $start AND load_hour < $end
    GROUP BY load_hour
    HAVING count(*) > 1
) AS replaced
