-- After the window's postcode versions are written: re-attributes the views of every user whose
-- versions the window changed, in the same transaction, moving both aggregates by the
-- difference (apply_aggregate_deltas.sql runs next). agg.current_postcode_by_user records the
-- postcode each user's views are counted under in the current-postcode aggregate, so a rerun
-- moves nothing twice.

-- Users with a version from the window on, or counted under one: new users, movers, and
-- users whose window version a replaced snapshot took away.
CREATE OR REPLACE TEMP TABLE reattributed_users AS
WITH changed AS (
    SELECT user_id FROM core.user_postcode_history WHERE valid_from >= $start
    UNION
    SELECT user_id FROM agg.current_postcode_by_user WHERE valid_from >= $start
)
SELECT
    c.user_id,
    coalesce(counted.postcode, 'UNKNOWN') AS counted_postcode,
    coalesce(v.postcode, 'UNKNOWN') AS postcode,
    v.valid_from,
    -- Views before the window keep their version, unless the user's first version is in it.
    e.user_id IS NOT NULL AS has_earlier_version
FROM changed AS c
LEFT JOIN agg.current_postcode_by_user AS counted ON counted.user_id = c.user_id
LEFT JOIN core.user_postcode_history AS v ON v.user_id = c.user_id AND v.is_current
-- A join, not EXISTS in the select list: Snowflake rejects correlated subqueries there.
LEFT JOIN (
    SELECT DISTINCT user_id FROM core.user_postcode_history WHERE valid_from < $start
) AS e ON e.user_id = c.user_id;

-- The current-postcode answers move whole users: the views of every user whose current
-- postcode changes leave the postcode they are counted under for the new one (+1 to the new
-- postcode, -1 to the counted one).
CREATE OR REPLACE TEMP TABLE current_moves AS
SELECT user_id, postcode, 1 AS sign
FROM reattributed_users
WHERE postcode <> counted_postcode
UNION ALL
SELECT user_id, counted_postcode, -1
FROM reattributed_users
WHERE postcode <> counted_postcode;

-- Hour by hour, only from $recent_from (ops.current_postcode_window, which the history step
-- has just moved): the hourly and daily answers start there. One pass over the window's rows of
-- the fact's narrow columns, however long the history.
CREATE OR REPLACE TEMP TABLE current_delta AS
SELECT f.pageview_hour, m.postcode, sum(m.sign * f.view_count) AS pageviews
FROM core.pageview_fact AS f
JOIN current_moves AS m ON m.user_id = f.user_id
WHERE f.pageview_hour >= $recent_from
GROUP BY f.pageview_hour, m.postcode;

-- Month by month, through all history: before the window from each mover's views per month (a
-- few rows a user), from the window on from the hourly delta just staged.
CREATE OR REPLACE TEMP TABLE current_month_delta AS
SELECT pageview_month, postcode, sum(pageviews) AS pageviews
FROM (
    SELECT u.pageview_month, m.postcode, m.sign * u.pageviews AS pageviews
    FROM agg.pageviews_by_user_month AS u
    JOIN current_moves AS m ON m.user_id = u.user_id
    UNION ALL
    SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP), postcode, pageviews
    FROM current_delta
) AS moved
GROUP BY pageview_month, postcode;

-- The views whose postcode at view may change: every view from the window on, and earlier
-- views of users whose first version is in the window. Two selects, not one with OR, so the
-- first skips the fact's older row groups by pageview_datetime and the second reads the wide
-- columns only for the few users without an earlier version.
CREATE OR REPLACE TEMP TABLE reattributed_views AS
SELECT f.pageview_hour, f.user_id, f.pageview_datetime, f.view_count,
    f.postcode_at_view AS previous_postcode
FROM core.pageview_fact AS f
JOIN reattributed_users AS u ON u.user_id = f.user_id
WHERE f.pageview_datetime >= $start
UNION ALL
SELECT f.pageview_hour, f.user_id, f.pageview_datetime, f.view_count,
    f.postcode_at_view AS previous_postcode
FROM core.pageview_fact AS f
JOIN reattributed_users AS u ON u.user_id = f.user_id
WHERE f.pageview_datetime < $start AND NOT u.has_earlier_version;

CREATE OR REPLACE TEMP TABLE reattributed_postcodes AS
SELECT v.pageview_hour, v.user_id, v.pageview_datetime, v.view_count, v.previous_postcode,
    coalesce(a.postcode, 'UNKNOWN') AS postcode_at_view
FROM reattributed_views AS v
LEFT JOIN core.user_postcode_in_force AS a
    ON a.user_id = v.user_id
    AND v.pageview_datetime >= a.in_force_from
    AND v.pageview_datetime < a.in_force_to
WHERE coalesce(a.postcode, 'UNKNOWN') <> v.previous_postcode;

-- The postcode at view depends on (user_id, pageview_datetime) alone, so the views are updated
-- by that key (Snowflake has no rowid); views of the key already right keep their value.
UPDATE core.pageview_fact AS f
SET postcode_at_view = p.postcode_at_view
FROM (
    SELECT DISTINCT pageview_hour, user_id, pageview_datetime, postcode_at_view
    FROM reattributed_postcodes
) AS p
WHERE f.pageview_hour = p.pageview_hour
    AND f.user_id = p.user_id
    AND f.pageview_datetime = p.pageview_datetime;

-- What the re-attribution moves in the at-view aggregate; apply_aggregate_deltas.sql writes
-- it with current_delta.
CREATE OR REPLACE TEMP TABLE at_view_delta AS
SELECT pageview_hour, postcode, sum(pageviews) AS pageviews
FROM (
    SELECT pageview_hour, postcode_at_view AS postcode, view_count AS pageviews
    FROM reattributed_postcodes
    UNION ALL
    SELECT pageview_hour, previous_postcode, -view_count
    FROM reattributed_postcodes
) AS moved
GROUP BY pageview_hour, postcode;

DELETE FROM agg.current_postcode_by_user
WHERE user_id IN (SELECT user_id FROM reattributed_users);

INSERT INTO agg.current_postcode_by_user BY NAME
SELECT user_id, postcode, valid_from
FROM reattributed_users
WHERE valid_from IS NOT NULL;
