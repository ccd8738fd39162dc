-- What held the snapshot the operator accepted, and by which run (runs before the capture log
-- clears the date's holds).
INSERT INTO ops.users_snapshot_acceptances
    (snapshot_date, check_name, reason, blocked_at, accepted_at, run_id)
SELECT snapshot_date, check_name, reason, blocked_at, $accepted_at, $run_id
FROM ops.users_snapshot_blocks
WHERE snapshot_date = $start
