-- The SCD2 rules for the versions starting in the window, and for every version of their users
-- (a user's current version may start in another partition).
WITH window_versions AS (
    SELECT * FROM core.user_postcode_history WHERE valid_from >= $start AND valid_from < $end
),
current_per_user AS (
    SELECT user_id, count(*) FILTER (is_current) AS current_versions
    FROM core.user_postcode_history
    WHERE user_id IN (SELECT user_id FROM window_versions)
    GROUP BY user_id
)
SELECT
    (SELECT count(*) FROM window_versions) AS versions,
    (SELECT count(*) FROM window_versions WHERE version_number > 1) AS users_moved,
    (SELECT count(*) FROM window_versions WHERE version_number = 1) AS new_users,
    (
        SELECT count(*) - count(DISTINCT (user_id, valid_from)) FROM window_versions
    ) AS duplicate_versions,
    (SELECT count(*) FROM current_per_user WHERE current_versions > 1) AS users_with_several_current,
    (
        SELECT count(*) FROM window_versions
        WHERE user_id IS NULL OR valid_from IS NULL OR postcode IS NULL
    ) AS null_key_rows,
    (SELECT count(*) FROM window_versions WHERE valid_to <= valid_from) AS non_increasing_validity
