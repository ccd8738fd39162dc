-- Closes and numbers the versions of every user whose versions the window touched: its own
-- new versions, and versions before it whose successor the window replaced.
UPDATE core.user_postcode_history AS h
SET
    valid_to = n.next_valid_from,
    is_current = n.next_valid_from IS NULL,
    version_number = n.version_number
FROM (
    SELECT
        user_id,
        valid_from,
        lead(valid_from) OVER (PARTITION BY user_id ORDER BY valid_from) AS next_valid_from,
        CAST(row_number() OVER (PARTITION BY user_id ORDER BY valid_from) AS INTEGER)
            AS version_number
    FROM core.user_postcode_history
    WHERE user_id IN (
        SELECT user_id
        FROM core.user_postcode_history
        WHERE valid_from >= $start OR valid_to >= $start
    )
) AS n
WHERE h.user_id = n.user_id
    AND h.valid_from = n.valid_from
    AND (
        h.valid_to IS DISTINCT FROM n.next_valid_from
        OR h.is_current <> (n.next_valid_from IS NULL)
        OR h.version_number <> n.version_number
    )
