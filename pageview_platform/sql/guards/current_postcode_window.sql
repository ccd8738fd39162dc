-- What the start of the current-postcode hourly and daily answers moves to in a history rebuild
-- of the window: the latest accepted snapshot it builds on (held snapshots are not in
-- raw.users_extract), and the start recorded so far, which it never moves back from.
SELECT
    (SELECT max(snapshot_date) FROM raw.users_extract WHERE snapshot_date < $end)
        AS latest_snapshot,
    (SELECT max(recent_from) FROM ops.current_postcode_window) AS recorded_from
