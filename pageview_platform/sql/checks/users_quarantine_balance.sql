-- Every captured row of the window is either accepted (no reject_reason) or quarantined.
SELECT
    (
        SELECT count(*) FROM raw.users_extract
        WHERE snapshot_date >= $start AND snapshot_date < $end
    ) AS captured,
    (
        SELECT count(*) FROM core.users_extract_checked
        WHERE snapshot_date >= $start AND snapshot_date < $end AND reject_reason IS NULL
    ) AS accepted,
    (
        SELECT count(*) FROM core.users_quarantine
        WHERE snapshot_date >= $start AND snapshot_date < $end
    ) AS quarantined
