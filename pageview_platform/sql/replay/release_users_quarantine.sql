-- Re-derives the quarantine of the snapshots in the window under the current rules, recording
-- the rows that leave it. The history run before this one already admitted them.
INSERT INTO ops.users_quarantine_replays BY NAME
SELECT
    q.snapshot_date,
    q.id,
    q.postcode,
    q.reason,
    CAST($replayed_at AS TIMESTAMP) AS replayed_at,
    CAST($run_id AS VARCHAR) AS run_id
FROM core.users_quarantine AS q
WHERE q.snapshot_date >= $start AND q.snapshot_date < $end
    AND NOT EXISTS (
        SELECT 1
        FROM core.users_extract_checked AS c
        WHERE c.snapshot_date = q.snapshot_date
            AND c.id IS NOT DISTINCT FROM q.id
            AND c.postcode IS NOT DISTINCT FROM q.postcode
            AND c.reject_reason IS NOT NULL
    );

DELETE FROM core.users_quarantine WHERE snapshot_date >= $start AND snapshot_date < $end;

INSERT INTO core.users_quarantine BY NAME
SELECT snapshot_date, id, postcode, reject_reason AS reason
FROM core.users_extract_checked
WHERE snapshot_date >= $start AND snapshot_date < $end AND reject_reason IS NOT NULL;
