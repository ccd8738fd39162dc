-- The blocked snapshots in a history window, earliest first.
SELECT snapshot_date, check_name, reason
FROM ops.users_snapshot_blocks
WHERE snapshot_date >= $start AND snapshot_date < $end
ORDER BY snapshot_date, check_name
