-- A blocking check stopped the date's captured snapshot: history must not rebuild over it.
INSERT INTO ops.users_snapshot_blocks (snapshot_date, check_name, reason, blocked_at)
VALUES ($start, $check_name, $reason, $blocked_at)
