-- The quarantine of the day [$start, $end) per extract and reason, with the rows the day
-- captured: the users snapshot's rows, or the rows of the day's 24 pageviews loads. An extract
-- that captured rows and quarantined none has one row, with reason NULL.
WITH captured AS (
    SELECT 'users' AS extract, count(*) AS captured_rows
    FROM raw.users_extract
    WHERE snapshot_date >= $start AND snapshot_date < $end
    UNION ALL
    SELECT 'pageviews' AS extract, count(*) AS captured_rows
    FROM raw.pageviews_extract
    WHERE load_hour >= $start AND load_hour < $end
),
quarantined AS (
    SELECT 'users' AS extract, reason, count(*) AS quarantined_rows
    FROM core.users_quarantine
    WHERE snapshot_date >= $start AND snapshot_date < $end
    GROUP BY reason
    UNION ALL
    SELECT 'pageviews' AS extract, reason, count(*) AS quarantined_rows
    FROM core.pageviews_quarantine
    WHERE load_hour >= $start AND load_hour < $end
    GROUP BY reason
)
SELECT
    CAST($start AS TIMESTAMP) AS summary_date,
    c.extract,
    q.reason,
    coalesce(q.quarantined_rows, 0) AS quarantined_rows,
    c.captured_rows
FROM captured AS c
LEFT JOIN quarantined AS q ON q.extract = c.extract
WHERE c.captured_rows > 0 OR q.reason IS NOT NULL
ORDER BY c.extract DESC, quarantined_rows DESC, q.reason
