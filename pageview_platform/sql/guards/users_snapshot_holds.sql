-- What the blocking checks judge a landing users snapshot by, before it is captured as the
-- snapshot of $start: its size, and the latest accepted snapshot before it (raw.users_extract
-- holds only accepted snapshots; a held one never becomes the yardstick), with its distinct
-- users as its capture recorded them (NULL for one captured before that record existed:
-- snapshot_holds.py counts them then).
WITH previous AS (
    SELECT max(snapshot_date) AS snapshot_date FROM raw.users_extract WHERE snapshot_date < $start
)
SELECT
    (SELECT count(*) FROM landing.users_extract) AS snapshot_rows,
    (SELECT count(DISTINCT id) FROM landing.users_extract) AS users,
    p.snapshot_date AS previous_snapshot_date,
    u.users AS previous_users
FROM previous AS p
LEFT JOIN ops.users_snapshot_users AS u ON u.snapshot_date = p.snapshot_date
