-- bench/history.py: day $day of history (starting $day_start), as the pipeline would have left
-- it after that day's users snapshot and its 24 hourly loads, each captured, accepted and
-- merged in order. Runs in one transaction per day, after versions.sql.

-- The day's users snapshot: every user, with the postcode of their version in force.
CREATE OR REPLACE TEMP TABLE bench_snapshot AS
SELECT user_id, postcode
FROM bench_versions
WHERE valid_day <= $day AND (next_day IS NULL OR next_day > $day);

INSERT INTO raw.users_extract (snapshot_date, id, postcode)
SELECT $day_start, user_id, postcode
FROM bench_snapshot
ORDER BY user_id;

-- The capture log, as transform/log_users_snapshot_capture.sql computes it.
INSERT INTO ops.users_snapshot_captures
SELECT
    CAST($day_start AS TIMESTAMP),
    count(*),
    CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR)
FROM raw.users_extract
WHERE snapshot_date = $day_start;

INSERT INTO ops.users_snapshot_users (snapshot_date, users)
SELECT CAST($day_start AS TIMESTAMP), count(DISTINCT user_id)
FROM bench_snapshot;

-- The day's views: $views_per_user per user, one at a random instant of each of as many equal
-- slots of the day ($slot microseconds each, so no two of a user's views share an instant), on
-- a random page, in the order the hourly loads bring them. The snapshot of a day lands before
-- its loads, so each view's postcode at view is the snapshot's. (Draws are BIGINT, which
-- keeps the modulos off slow HUGEINT maths.)
CREATE OR REPLACE TEMP TABLE bench_views AS
WITH drawn AS (
    SELECT s.user_id, s.postcode, k, CAST(hash($seed, 4, s.user_id, $day, k) >> 1 AS BIGINT) AS draw
    FROM bench_snapshot AS s, range($views_per_user) AS views(k)
),
timed AS (
    SELECT
        user_id,
        postcode,
        CAST($day_start AS TIMESTAMP) + to_microseconds(k * $slot + draw % $slot)
            AS pageview_datetime,
        'https://www.website.com/page/' || CAST((draw >> 40) % $urls AS VARCHAR) AS url
    FROM drawn
)
SELECT
    date_trunc('hour', pageview_datetime) AS pageview_hour,
    user_id,
    url,
    pageview_datetime,
    CAST(1 AS BIGINT) AS view_count,
    postcode AS postcode_at_view
FROM timed
ORDER BY pageview_hour;

-- Each hour's load holds that hour's views: captured verbatim, then merged into the fact.
INSERT INTO raw.pageviews_extract (load_hour, user_id, url, pageview_datetime)
SELECT pageview_hour, user_id, url, pageview_datetime
FROM bench_views;

INSERT INTO core.pageview_fact BY NAME
SELECT pageview_hour, user_id, url, pageview_datetime, view_count, postcode_at_view
FROM bench_views;

-- The loads' capture logs, as transform/log_pageview_load_capture.sql and
-- log_pageview_load_hours.sql compute them: every hour's load, an empty one included.
INSERT INTO ops.pageview_load_captures
SELECT
    h.load_hour,
    count(r.load_hour),
    CAST(coalesce(sum(hash(r.user_id, r.url, r.pageview_datetime)), 0) AS VARCHAR)
FROM (
    SELECT CAST($day_start AS TIMESTAMP) + to_hours(CAST(hour AS INTEGER)) AS load_hour
    FROM range(24) AS hours(hour)
) AS h
LEFT JOIN raw.pageviews_extract AS r
    ON r.load_hour = h.load_hour
    AND r.load_hour >= $day_start
    AND r.load_hour < CAST($day_start AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY h.load_hour
ORDER BY h.load_hour;

INSERT INTO ops.pageview_load_hours
SELECT DISTINCT pageview_hour, pageview_hour
FROM bench_views
ORDER BY 1;

INSERT INTO agg.pageviews_by_postcode_at_view_hourly
SELECT pageview_hour, postcode_at_view, sum(view_count)
FROM bench_views
GROUP BY ALL
ORDER BY 1, 2;

-- The current-postcode aggregate holds a row for every postcode the day's views were ever
-- counted under: the version in force when they were merged, then each later version of the
-- user up to the last snapshot, which each night's re-attribution moved them to (a row a
-- move emptied stays, at 0). Their views count under the current version only.
INSERT INTO agg.pageviews_by_current_postcode_hourly
SELECT
    v.pageview_hour,
    x.postcode,
    sum(CASE WHEN x.next_day IS NULL OR x.next_day >= $days THEN v.view_count ELSE 0 END)
FROM bench_views AS v
JOIN bench_versions AS x
    ON x.user_id = v.user_id
    AND x.valid_day < $days
    AND (x.next_day IS NULL OR x.next_day > $day)
GROUP BY ALL
ORDER BY 1, 2;

-- The day's rollups: every postcode with an hourly row in the day (a moved delta reaches the
-- day's row with the hour's), summed.
INSERT INTO agg.pageviews_by_postcode_at_view_daily
SELECT CAST($day_start AS TIMESTAMP), postcode, sum(pageviews)
FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageview_hour >= $day_start AND pageview_hour < CAST($day_start AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY ALL
ORDER BY 2;

INSERT INTO agg.pageviews_by_current_postcode_daily
SELECT CAST($day_start AS TIMESTAMP), postcode, sum(pageviews)
FROM agg.pageviews_by_current_postcode_hourly
WHERE pageview_hour >= $day_start AND pageview_hour < CAST($day_start AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY ALL
ORDER BY 2;

-- The day's quarantine summary (ops/quarantine_summary): both extracts clean.
INSERT INTO ops.quarantine_summary
SELECT CAST($day_start AS TIMESTAMP), 'users', NULL, 0, (SELECT count(*) FROM bench_snapshot)
UNION ALL
SELECT CAST($day_start AS TIMESTAMP), 'pageviews', NULL, 0, (SELECT count(*) FROM bench_views);
