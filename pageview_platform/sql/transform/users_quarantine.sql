SELECT snapshot_date, id, postcode, reject_reason AS reason
FROM core.users_extract_checked
WHERE snapshot_date >= $start AND snapshot_date < $end AND reject_reason IS NOT NULL
