-- Merges one load (the window's, $start) into the fact and both hourly aggregates; a range of
-- loads is merged one load after the other, in the same transaction.
-- A pageview's view_count is the highest count of it within any one load, so merging a load
-- is max(): idempotent and order-free. Only what changes is written; the aggregates move by
-- the difference (apply_aggregate_deltas.sql). A replaced load cannot lower a count:
-- rebuild_pageview_hours.sql runs first.

-- The load's valid views, each identity with its count in this load.
CREATE OR REPLACE TEMP TABLE load_views AS
SELECT
    date_trunc('hour', pageview_datetime) AS pageview_hour,
    user_id,
    url,
    pageview_datetime,
    count(*) AS view_count
FROM core.pageviews_extract_checked
WHERE load_hour = $start AND reject_reason IS NULL
GROUP BY user_id, url, pageview_datetime;

-- Where in the load's own hour and its neighbours the fact already has views: its first and
-- last view time. Only a view inside that span can be one the fact holds (the previous hour's
-- last minutes, the first minutes of this hour an earlier load caught); every other view of
-- those hours is new for certain and is never looked up. Two narrow columns of three hours are
-- read. An earlier hour's rows are late rows, all looked up: the fact holds the whole of such
-- an hour, so its span would let nearly all of them through, and reading it cost a second a
-- load at full volume (the late rows reach back a day).
CREATE OR REPLACE TEMP TABLE known_spans AS
SELECT pageview_hour, min(pageview_datetime) AS first_view, max(pageview_datetime) AS last_view
FROM core.pageview_fact
WHERE pageview_hour >= $start - INTERVAL 1 HOUR
    AND pageview_hour IN (SELECT DISTINCT pageview_hour FROM load_views)
GROUP BY pageview_hour;

-- The instants at which the fact may hold one of the load's views: those of the load's late
-- rows, and those of its other views inside a span.
CREATE OR REPLACE TEMP TABLE known_times AS
SELECT DISTINCT l.pageview_datetime
FROM load_views AS l
LEFT JOIN known_spans AS s ON s.pageview_hour = l.pageview_hour
WHERE l.pageview_hour < $start - INTERVAL 1 HOUR
    OR (l.pageview_datetime >= s.first_view AND l.pageview_datetime <= s.last_view);

-- The fact's users at those instants: two narrow columns. Joined on the one column, the
-- fact's scan drops the other instants' rows early (DuckDB pushes a join's filter into the scan
-- for a one-column key, not for the whole identity's three). Its time range is the known
-- times': the late rows' reach back, 20 hours at full volume.
CREATE OR REPLACE TEMP TABLE known_users AS
SELECT f.pageview_datetime, f.user_id
FROM core.pageview_fact AS f
JOIN known_times AS t ON t.pageview_datetime = f.pageview_datetime;

-- The instants at which the fact holds a view by the same user as one of the load's: those of
-- views the load repeats (the previous hour's last minutes, mostly), not those of late rows,
-- which are new.
CREATE OR REPLACE TEMP TABLE known_user_times AS
SELECT DISTINCT l.pageview_datetime
FROM load_views AS l
JOIN known_users AS k ON k.pageview_datetime = l.pageview_datetime AND k.user_id = l.user_id;

-- The fact's rows at those instants: the load's known views and a few others, which
-- merge_changes tells apart on the rest of the identity. Only these are read whole: the url
-- and postcode of every row the scan's filter lets through over the late rows' 20 hours cost
-- about 1.5 s of a load at full volume, where these instants span the last hour or two.
CREATE OR REPLACE TEMP TABLE known_views AS
SELECT f.pageview_hour, f.user_id, f.url, f.pageview_datetime, f.view_count, f.postcode_at_view
FROM core.pageview_fact AS f
JOIN known_user_times AS t ON t.pageview_datetime = f.pageview_datetime;

-- What the load adds: new pageviews, and known ones counted higher here. A new pageview
-- takes the postcode the user had when viewing (before their first snapshot: the first one).
CREATE OR REPLACE TEMP TABLE merge_changes AS
WITH changed AS (
    SELECT
        l.pageview_hour,
        l.user_id,
        l.url,
        l.pageview_datetime,
        l.view_count,
        l.view_count - coalesce(k.view_count, 0) AS added_views,
        k.view_count IS NULL AS is_new,
        k.postcode_at_view AS known_postcode
    FROM load_views AS l
    LEFT JOIN known_views AS k
        ON k.pageview_hour = l.pageview_hour
        AND k.user_id = l.user_id
        AND k.pageview_datetime = l.pageview_datetime
        AND k.url = l.url
    WHERE k.view_count IS NULL OR l.view_count > k.view_count
)
SELECT
    c.pageview_hour,
    c.user_id,
    c.url,
    c.pageview_datetime,
    c.view_count,
    c.added_views,
    c.is_new,
    coalesce(c.known_postcode, a.postcode, 'UNKNOWN') AS postcode_at_view,
    -- Attributed to the user's current version (or to no version): the current postcode is
    -- the same; otherwise it is looked up below.
    c.is_new AND (a.user_id IS NULL OR a.valid_to IS NULL) AS at_current_version
FROM changed AS c
LEFT JOIN core.user_postcode_in_force AS a
    ON c.is_new
    AND a.user_id = c.user_id
    AND c.pageview_datetime >= a.in_force_from
    AND c.pageview_datetime < a.in_force_to;

INSERT INTO core.pageview_fact BY NAME
SELECT pageview_hour, user_id, url, pageview_datetime, view_count, postcode_at_view
FROM merge_changes
WHERE is_new;

UPDATE core.pageview_fact AS f
SET view_count = c.view_count
FROM merge_changes AS c
WHERE NOT c.is_new
    AND f.pageview_hour = c.pageview_hour
    AND f.user_id = c.user_id
    AND f.pageview_datetime = c.pageview_datetime
    AND f.url = c.url;

-- What the load moves in each aggregate; apply_aggregate_deltas.sql writes both.
CREATE OR REPLACE TEMP TABLE at_view_delta AS
SELECT pageview_hour, postcode_at_view AS postcode, sum(added_views) AS pageviews
FROM merge_changes
GROUP BY pageview_hour, postcode_at_view;

-- The current-postcode delta is the at-view one, but for the views not taken by the user's
-- current version (late views of movers, raised counts: a few hundred rows of a load), which
-- leave their postcode at view for the user's current one. Grouping the at-view delta's cells
-- again, not the load's millions of views, costs 0.4 s against 0.7 s at full volume. Each
-- view adds, so a cell whose moves cancel out is one the load does not change.
CREATE OR REPLACE TEMP TABLE current_delta AS
SELECT pageview_hour, postcode, sum(pageviews) AS pageviews
FROM (
    SELECT pageview_hour, postcode, pageviews
    FROM at_view_delta
    UNION ALL
    SELECT pageview_hour, postcode_at_view, -added_views
    FROM merge_changes
    WHERE NOT at_current_version
    UNION ALL
    SELECT c.pageview_hour, coalesce(u.postcode, 'UNKNOWN'), c.added_views
    FROM merge_changes AS c
    LEFT JOIN agg.current_postcode_by_user AS u ON u.user_id = c.user_id
    WHERE NOT c.at_current_version
) AS moved
GROUP BY pageview_hour, postcode
HAVING sum(pageviews) <> 0;

-- The current-postcode monthly answer moves by every hour's delta, older than the hourly
-- answer's window or not.
CREATE OR REPLACE TEMP TABLE current_month_delta AS
SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, postcode,
    sum(pageviews) AS pageviews
FROM current_delta
GROUP BY 1, 2;

-- Each user's views per month before the current-postcode window (the history step folds each
-- day in as the window leaves it): late rows and loads of an older hour, in practice none.
CREATE OR REPLACE TEMP TABLE user_month_delta AS
SELECT CAST(date_trunc('month', c.pageview_hour) AS TIMESTAMP) AS pageview_month, c.user_id,
    sum(c.added_views) AS pageviews
FROM merge_changes AS c
WHERE EXISTS (
    SELECT 1 FROM ops.current_postcode_window AS w WHERE c.pageview_hour < w.recent_from
)
GROUP BY 1, 2;

MERGE INTO agg.pageviews_by_user_month AS a
USING user_month_delta AS d
ON a.pageview_month = d.pageview_month AND a.user_id = d.user_id
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, user_id, pageviews)
    VALUES (d.pageview_month, d.user_id, d.pageviews);
