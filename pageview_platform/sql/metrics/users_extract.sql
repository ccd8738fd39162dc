-- The snapshot's distinct users as the capture's log just counted them
-- (log_users_snapshot_capture.sql), and its rows without an id.
SELECT u.users AS distinct_users, r.rows_without_id
FROM (
    SELECT count(*) - count(id) AS rows_without_id
    FROM raw.users_extract
    WHERE snapshot_date = $start
) AS r
LEFT JOIN ops.users_snapshot_users AS u ON u.snapshot_date = CAST($start AS TIMESTAMP)
