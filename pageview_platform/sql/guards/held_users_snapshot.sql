-- Why the snapshot of $start is held, one row per blocking check; none when it is not held.
SELECT check_name, reason
FROM ops.users_snapshot_blocks
WHERE snapshot_date = $start
ORDER BY check_name
