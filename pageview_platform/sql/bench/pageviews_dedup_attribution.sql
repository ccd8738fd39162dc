-- The load's valid views, each identity counted by its multiplicity in the load, kept where the
-- fact lacks it or counts it fewer times (an identity counts max over loads). New identities
-- take the postcode of the version covering their time (the first version before it starts).
CREATE OR REPLACE TEMP TABLE changed_views AS
WITH load_views AS (
    SELECT user_id, url, pageview_datetime, count(*) AS view_count
    FROM captured_pageviews
    WHERE load_hour = $load_hour
        AND user_id IS NOT NULL
        AND url IS NOT NULL
        AND NOT regexp_full_match(url, '[ \t\n\r\f\x0B]*')
        AND length(url) <= 4096
        AND pageview_datetime >= $start_date
        AND pageview_datetime < CAST($load_hour AS TIMESTAMP) + INTERVAL 2 HOUR
    GROUP BY user_id, url, pageview_datetime
),
changed AS (
    SELECT
        v.user_id,
        v.url,
        v.pageview_datetime,
        v.view_count,
        f.view_count AS previous_count,
        f.postcode_at_view AS previous_postcode
    FROM load_views AS v
    LEFT JOIN pageview_fact AS f
        ON f.user_id = v.user_id AND f.url = v.url AND f.pageview_datetime = v.pageview_datetime
    WHERE f.view_count IS NULL OR v.view_count > f.view_count
)
SELECT
    date_trunc('hour', c.pageview_datetime) AS pageview_hour,
    c.user_id,
    c.url,
    c.pageview_datetime,
    c.view_count,
    c.view_count - coalesce(c.previous_count, 0) AS added_views,
    c.previous_count IS NULL AS is_new,
    coalesce(c.previous_postcode, h.postcode, 'UNKNOWN') AS postcode_at_view
FROM changed AS c
LEFT JOIN user_postcode_history AS h
    ON h.user_id = c.user_id
    AND c.pageview_datetime
        >= CASE WHEN h.version_number = 1 THEN '-infinity'::TIMESTAMP ELSE h.valid_from END
    AND c.pageview_datetime < coalesce(h.valid_to, 'infinity'::TIMESTAMP);

UPDATE pageview_fact AS f
SET view_count = c.view_count
FROM changed_views AS c
WHERE NOT c.is_new
    AND f.user_id = c.user_id
    AND f.url = c.url
    AND f.pageview_datetime = c.pageview_datetime;

-- In time order, so later loads' lookups of recent hours skip most row groups.
INSERT INTO pageview_fact
SELECT pageview_hour, user_id, url, pageview_datetime, view_count, postcode_at_view
FROM changed_views
WHERE is_new
ORDER BY pageview_datetime;
