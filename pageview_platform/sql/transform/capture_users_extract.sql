-- The landing snapshot, verbatim, as the snapshot of the partition's date.
SELECT CAST($start AS TIMESTAMP) AS snapshot_date, id, postcode
FROM landing.users_extract
