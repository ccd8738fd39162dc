-- The landing snapshot, verbatim, as the snapshot of $day.
INSERT INTO captured_users
SELECT CAST($day AS TIMESTAMP), id, postcode
FROM warehouse.landing.users_extract
