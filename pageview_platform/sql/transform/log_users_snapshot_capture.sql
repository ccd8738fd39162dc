-- The snapshot's content, unless an earlier capture of the date had the very same.
INSERT INTO ops.users_snapshot_captures
SELECT snapshot_date, captured_rows, content_hash
FROM (
    SELECT
        CAST($start AS TIMESTAMP) AS snapshot_date,
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR) AS content_hash
    FROM raw.users_extract
    WHERE snapshot_date = $start
) AS captured
WHERE NOT EXISTS (
    SELECT 1
    FROM ops.users_snapshot_captures AS c
    WHERE c.snapshot_date = captured.snapshot_date AND c.content_hash = captured.content_hash
);

-- Its distinct users, which the next snapshot's shrink guard and check compare with.
DELETE FROM ops.users_snapshot_users WHERE snapshot_date = $start;

INSERT INTO ops.users_snapshot_users (snapshot_date, users)
SELECT CAST($start AS TIMESTAMP), count(DISTINCT id)
FROM raw.users_extract
WHERE snapshot_date = $start;

-- The date's snapshot is accepted now: whatever was held for it is gone (an operator's
-- acceptance was logged first).
DELETE FROM raw.users_extract_held WHERE snapshot_date = $start;

DELETE FROM ops.users_snapshot_blocks WHERE snapshot_date = $start
