SELECT
    count(DISTINCT id) AS distinct_users,
    count(*) - count(id) AS rows_without_id
FROM raw.users_extract
WHERE snapshot_date = $start
