-- bench/history.py: the users snapshot of day $days in the landing table, as the extract
-- process reloads it (simulator.write_users_snapshot's format): every user with the postcode
-- of their version in force that day, the night's movers with their new one.
CREATE SCHEMA IF NOT EXISTS landing;

CREATE TABLE IF NOT EXISTS landing.users_extract (id BIGINT, postcode VARCHAR);

DELETE FROM landing.users_extract;

INSERT INTO landing.users_extract (id, postcode)
SELECT user_id, postcode
FROM bench_versions
WHERE valid_day <= $days AND (next_day IS NULL OR next_day > $days)
ORDER BY user_id;
