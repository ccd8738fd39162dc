-- Versions starting in the window: first versions are new users, later ones are moves.
SELECT
    count(*) AS versions_started,
    count(*) FILTER (version_number = 1) AS new_users,
    count(*) FILTER (version_number > 1) AS moved_users
FROM core.user_postcode_history
WHERE valid_from >= $start AND valid_from < $end
