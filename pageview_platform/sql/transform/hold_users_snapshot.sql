-- The landing snapshot, held as the snapshot of $start: kept verbatim beside the date's
-- accepted snapshot (which it does not touch) and logged as captured content, so neither the
-- sensor nor the guard takes it for a new load. Its reasons follow (log_users_snapshot_block).
DELETE FROM raw.users_extract_held WHERE snapshot_date = $start;

INSERT INTO raw.users_extract_held (snapshot_date, id, postcode)
SELECT CAST($start AS TIMESTAMP), id, postcode
FROM landing.users_extract;

INSERT INTO ops.users_snapshot_captures
SELECT snapshot_date, captured_rows, content_hash
FROM (
    SELECT
        CAST($start AS TIMESTAMP) AS snapshot_date,
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR) AS content_hash
    FROM raw.users_extract_held
    WHERE snapshot_date = $start
) AS captured
WHERE NOT EXISTS (
    SELECT 1
    FROM ops.users_snapshot_captures AS c
    WHERE c.snapshot_date = captured.snapshot_date AND c.content_hash = captured.content_hash
);

DELETE FROM ops.users_snapshot_blocks WHERE snapshot_date = $start
