SELECT
    count(*) AS quarantined_rows,
    count(*) FILTER (reason = 'missing_id') AS missing_id,
    count(*) FILTER (reason = 'missing_postcode') AS missing_postcode,
    count(*) FILTER (reason = 'blank_postcode') AS blank_postcode,
    count(*) FILTER (reason = 'conflicting_postcodes') AS conflicting_postcodes
FROM core.users_quarantine
WHERE snapshot_date >= $start AND snapshot_date < $end
