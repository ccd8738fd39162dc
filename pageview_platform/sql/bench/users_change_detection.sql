-- New users, and users whose valid postcode differs from their current version. Postcodes are
-- normalised; a user whose valid rows disagree is left out and keeps the postcode they have.
CREATE OR REPLACE TEMP TABLE changed_users AS
WITH snapshot AS (
    SELECT
        id AS user_id,
        upper(trim(regexp_replace(postcode, '[ \t\n\r\f\x0B]+', ' ', 'g'))) AS postcode
    FROM captured_users
    WHERE snapshot_date = $day AND id IS NOT NULL AND postcode IS NOT NULL
),
agreed AS (
    SELECT user_id, min(postcode) AS postcode
    FROM snapshot
    WHERE postcode <> ''
        AND length(postcode) <= 16
        AND NOT regexp_matches(postcode, '[\x00-\x1F\x7F-\x9F\x{FFFD}]')
    GROUP BY user_id
    HAVING min(postcode) = max(postcode)
)
SELECT
    a.user_id,
    a.postcode,
    h.postcode AS previous_postcode,
    coalesce(h.version_number, 0) + 1 AS version_number
FROM agreed AS a
LEFT JOIN user_postcode_history AS h ON h.user_id = a.user_id AND h.is_current
WHERE h.postcode IS DISTINCT FROM a.postcode
