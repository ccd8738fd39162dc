-- Versions starting in the window (first versions are new users, later ones are moves), and
-- the views the window re-attributed.
SELECT
    count(*) AS versions_started,
    count(*) FILTER (version_number = 1) AS new_users,
    count(*) FILTER (version_number > 1) AS moved_users,
    (SELECT count(*) FROM reattributed_postcodes) AS views_reattributed_at_view,
    (
        SELECT count(*) FROM reattributed_users WHERE postcode <> counted_postcode
    ) AS users_moved_in_current_aggregate
FROM core.user_postcode_history
WHERE valid_from >= $start AND valid_from < $end
