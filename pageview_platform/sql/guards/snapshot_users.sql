-- The distinct users of the accepted snapshot of $start, counted: for a snapshot whose capture
-- recorded none in ops.users_snapshot_users.
SELECT count(DISTINCT id) AS users FROM raw.users_extract WHERE snapshot_date = $start
