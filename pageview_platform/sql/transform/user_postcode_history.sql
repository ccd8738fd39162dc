-- Versions that start inside the window: a user's valid postcode in a snapshot starts a
-- version when it differs from their postcode in the latest earlier snapshot holding them.
-- Versions before the window are already final (the partitions are built in date order).
WITH snapshot AS (
    SELECT DISTINCT snapshot_date, id AS user_id, postcode_normalised AS postcode
    FROM core.users_extract_checked
    WHERE snapshot_date >= $start AND snapshot_date < $end AND reject_reason IS NULL
),
before_window AS (
    -- Each user's version at the window's start (the window's own versions are deleted, so the
    -- one before them still ends at or after $start).
    SELECT user_id, postcode
    FROM core.user_postcode_history
    WHERE valid_from < $start AND (valid_to IS NULL OR valid_to >= $start)
),
sequenced AS (
    SELECT
        snapshot_date,
        user_id,
        postcode,
        lag(postcode) OVER (PARTITION BY user_id ORDER BY snapshot_date) AS previous_in_window
    FROM snapshot
)
SELECT
    s.user_id,
    s.postcode,
    s.snapshot_date AS valid_from,
    CAST(NULL AS TIMESTAMP) AS valid_to,
    TRUE AS is_current,
    0 AS version_number
FROM sequenced AS s
LEFT JOIN before_window AS b ON b.user_id = s.user_id
WHERE s.postcode IS DISTINCT FROM coalesce(s.previous_in_window, b.postcode)
