-- Every captured row of the window is either accepted (no reject_reason) or quarantined.
SELECT
    (
        SELECT count(*) FROM raw.pageviews_extract
        WHERE load_hour >= $start AND load_hour < $end
    ) AS captured,
    (
        SELECT count(*) FROM core.pageviews_extract_checked
        WHERE load_hour >= $start AND load_hour < $end AND reject_reason IS NULL
    ) AS accepted,
    (
        SELECT count(*) FROM core.pageviews_quarantine
        WHERE load_hour >= $start AND load_hour < $end
    ) AS quarantined
