-- How many snapshots of the window were ever captured: none means history has nothing to add.
SELECT count(DISTINCT snapshot_date) AS captured_snapshots
FROM ops.users_snapshot_captures
WHERE snapshot_date >= $start AND snapshot_date < $end
