-- The point-in-time lookup, written once: the postcode version in force at an instant t is the
-- row of core.user_postcode_history with in_force_from <= t < in_force_to. A user's first
-- version also covers the views before it (the first snapshot names the postcode they had), and
-- the current version runs to the end of time. Every join of a view to its postcode reads this.
CREATE OR REPLACE VIEW core.user_postcode_in_force AS
SELECT
    user_id,
    postcode,
    valid_to,
    CASE
        WHEN version_number = 1 THEN CAST('0001-01-01' AS TIMESTAMP) ELSE valid_from
    END AS in_force_from,
    coalesce(valid_to, CAST('9999-12-31' AS TIMESTAMP)) AS in_force_to
FROM core.user_postcode_history;
