-- A blocking check held the date's landing snapshot: why, and when.
INSERT INTO ops.users_snapshot_blocks (snapshot_date, check_name, reason, blocked_at)
VALUES ($start, $check_name, $reason, $blocked_at)
