-- Whether a users snapshot with this fingerprint ($rows, $hash: the landing table's, as
-- users_extract_landing_fingerprint.sql computes it) was captured or held, under any date.
SELECT EXISTS (
    SELECT 1 FROM ops.users_snapshot_captures
    WHERE captured_rows = $rows AND content_hash = $hash
)
