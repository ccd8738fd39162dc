-- The landing snapshot's fingerprint, as the capture log and the capture guard compute it.
SELECT
    count(*) AS landing_rows,
    CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR) AS landing_hash
FROM landing.users_extract
