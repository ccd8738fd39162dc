-- Quarantined rows of the window per reason, for the balance check's metadata.
SELECT reason, count(*) AS quarantined
FROM core.pageviews_quarantine
WHERE load_hour >= $start AND load_hour < $end
GROUP BY reason
ORDER BY reason
