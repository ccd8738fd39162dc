-- Snapshots holding quarantined rows the current rules accept. Identical rows always share a
-- reason, so a row with any identical twin still rejected is still rejected.
SELECT DISTINCT q.snapshot_date
FROM core.users_quarantine AS q
WHERE NOT EXISTS (
    SELECT 1
    FROM core.users_extract_checked AS c
    WHERE c.snapshot_date = q.snapshot_date
        AND c.id IS NOT DISTINCT FROM q.id
        AND c.postcode IS NOT DISTINCT FROM q.postcode
        AND c.reject_reason IS NOT NULL
)
ORDER BY q.snapshot_date
