-- What the blocking checks judge a landing users snapshot by, before it is captured as the
-- snapshot of $start: its size, and the latest accepted snapshot before it (raw.users_extract
-- holds only accepted snapshots; a held one never becomes the yardstick).
-- The previous date is an uncorrelated scalar, so its users are counted on that snapshot's rows
-- alone: correlated to the CTE, DuckDB counted every captured snapshot's users first.
WITH previous AS (
    SELECT max(snapshot_date) AS snapshot_date FROM raw.users_extract WHERE snapshot_date < $start
)
SELECT
    (SELECT count(*) FROM landing.users_extract) AS snapshot_rows,
    (SELECT count(DISTINCT id) FROM landing.users_extract) AS users,
    p.snapshot_date AS previous_snapshot_date,
    (
        SELECT count(DISTINCT id) FROM raw.users_extract
        WHERE snapshot_date = (
            SELECT max(snapshot_date) FROM raw.users_extract WHERE snapshot_date < $start
        )
    ) AS previous_users
FROM previous AS p
