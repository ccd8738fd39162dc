-- What a history rebuild of the window builds on: whether it has anything to rebuild (an accepted
-- snapshot, or versions an earlier snapshot left there), and the latest accepted snapshot or
-- version after it, which a rebuild of the window alone would leave built on stale versions.
-- Held snapshots are not in raw.users_extract: history is built around them.
SELECT
    EXISTS (
        SELECT 1 FROM raw.users_extract WHERE snapshot_date >= $start AND snapshot_date < $end
    )
    OR EXISTS (
        SELECT 1 FROM core.user_postcode_history WHERE valid_from >= $start AND valid_from < $end
    ) AS anything_to_rebuild,
    -- NULL-safe on both warehouses (Snowflake's greatest() is NULL when any argument is).
    (
        SELECT max(after_window) FROM (
            SELECT max(snapshot_date) AS after_window FROM raw.users_extract
            WHERE snapshot_date >= $end
            UNION ALL
            SELECT max(valid_from) FROM core.user_postcode_history WHERE valid_from >= $end
        ) AS later
    ) AS built_on_after
