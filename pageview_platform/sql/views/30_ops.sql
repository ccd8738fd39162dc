-- Every users snapshot held now: its date, why, when, how many rows it holds and whether the
-- date has an accepted snapshot that history uses meanwhile.
CREATE OR REPLACE VIEW ops.held_users_snapshots AS
WITH holds AS (
    SELECT
        snapshot_date,
        string_agg(check_name || ': ' || reason, '; ') AS reasons,
        max(blocked_at) AS held_at
    FROM ops.users_snapshot_blocks
    GROUP BY snapshot_date
),
held_rows AS (
    SELECT snapshot_date, count(*) AS held_rows
    FROM raw.users_extract_held
    GROUP BY snapshot_date
),
accepted AS (
    SELECT DISTINCT r.snapshot_date
    FROM raw.users_extract AS r
    INNER JOIN holds AS h ON h.snapshot_date = r.snapshot_date
)
SELECT
    h.snapshot_date,
    h.reasons,
    h.held_at,
    coalesce(n.held_rows, 0) AS held_rows,
    a.snapshot_date IS NOT NULL AS has_accepted_snapshot
FROM holds AS h
LEFT JOIN held_rows AS n ON n.snapshot_date = h.snapshot_date
LEFT JOIN accepted AS a ON a.snapshot_date = h.snapshot_date
