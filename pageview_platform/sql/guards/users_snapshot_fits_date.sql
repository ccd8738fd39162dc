-- What decides whether the landing snapshot may be captured as the snapshot of date $start: its
-- fingerprint, the date's accepted snapshot, and the other dates already captured with the very same
-- content (two dates may hold the same snapshot when nobody moved).
WITH landing AS (
    SELECT
        count(*) AS landing_rows,
        CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR) AS landing_hash
    FROM landing.users_extract
),
captured AS (
    SELECT
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR) AS captured_hash
    FROM raw.users_extract
    WHERE snapshot_date = $start
),
same_content AS (
    SELECT
        min(o.snapshot_date) AS same_content_captured_as,
        max(o.snapshot_date) AS same_content_captured_last
    FROM ops.users_snapshot_captures AS o
    CROSS JOIN landing AS l
    WHERE l.landing_rows > 0
        AND o.snapshot_date <> $start
        AND o.captured_rows = l.landing_rows
        AND o.content_hash = l.landing_hash
)
SELECT
    l.landing_rows,
    l.landing_hash,
    -- A held snapshot is not the date's: replacing it destroys no accepted snapshot.
    EXISTS (SELECT 1 FROM raw.users_extract WHERE snapshot_date = $start) AS was_captured,
    c.captured_rows,
    c.captured_hash,
    s.same_content_captured_as,
    s.same_content_captured_last
FROM landing AS l
CROSS JOIN captured AS c
CROSS JOIN same_content AS s
