-- bench/history.py: the SCD2 rules over every user's versions, and the record of where each
-- user's views are counted against their current version. Every column but versions is a
-- count of violations.
WITH ordered AS (
    SELECT
        *,
        lead(valid_from) OVER per_user AS next_valid_from,
        lag(postcode) OVER per_user AS previous_postcode,
        row_number() OVER per_user AS expected_version_number
    FROM core.user_postcode_history
    WINDOW per_user AS (PARTITION BY user_id ORDER BY valid_from)
)
SELECT
    count(*) AS versions,
    count(*) FILTER (valid_to IS DISTINCT FROM next_valid_from) AS wrong_valid_to,
    count(*) FILTER (is_current <> (next_valid_from IS NULL)) AS wrong_is_current,
    count(*) FILTER (version_number <> expected_version_number) AS wrong_version_number,
    count(*) FILTER (postcode = previous_postcode) AS versions_without_change,
    (
        SELECT count(*)
        FROM agg.current_postcode_by_user AS c
        FULL JOIN (
            SELECT user_id, postcode, valid_from FROM core.user_postcode_history WHERE is_current
        ) AS h ON h.user_id = c.user_id
        WHERE c.postcode IS DISTINCT FROM h.postcode OR c.valid_from IS DISTINCT FROM h.valid_from
    ) AS wrong_counted_postcodes
FROM ordered
