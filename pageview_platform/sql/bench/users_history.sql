-- Snapshots arrive in date order: close each changed user's current version at $day, then
-- open the new one.
UPDATE user_postcode_history AS h
SET valid_to = $day, is_current = FALSE
FROM changed_users AS c
WHERE h.user_id = c.user_id AND h.is_current;

INSERT INTO user_postcode_history
SELECT user_id, postcode, $day, NULL, TRUE, version_number
FROM changed_users;
