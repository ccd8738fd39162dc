-- Quarantined rows of the window per reason, for the balance check's metadata.
SELECT reason, count(*) AS quarantined
FROM core.users_quarantine
WHERE snapshot_date >= $start AND snapshot_date < $end
GROUP BY reason
ORDER BY reason
