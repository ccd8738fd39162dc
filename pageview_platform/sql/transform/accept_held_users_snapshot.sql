-- The held snapshot of $start, as the date's accepted snapshot: the operator's explicit choice.
SELECT snapshot_date, id, postcode
FROM raw.users_extract_held
WHERE snapshot_date = $start
