-- What decides whether the landing load may be captured as the load of hour $start: its
-- fingerprint, where its views fall against the load's window [$start, $start + 2h), what the
-- hour holds now, and any other load hour already captured with the very same content.
WITH landing AS (
    SELECT
        count(*) AS landing_rows,
        CAST(coalesce(sum(hash(user_id, url, pageview_datetime)), 0) AS VARCHAR) AS landing_hash,
        count(pageview_datetime) AS dated_rows,
        -- coalesce: Snowflake's COUNT_IF on an empty table is NULL under the emulator.
        coalesce(count(*) FILTER (
            WHERE pageview_datetime >= $start AND pageview_datetime < $start + INTERVAL 2 HOUR
        ), 0) AS rows_in_window,
        coalesce(
            count(*) FILTER (WHERE pageview_datetime >= $start + INTERVAL 2 HOUR), 0
        ) AS rows_after_window,
        min(pageview_datetime) AS first_view,
        max(pageview_datetime) AS last_view
    FROM landing.pageviews_extract
),
captured AS (
    SELECT
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(user_id, url, pageview_datetime)), 0) AS VARCHAR) AS captured_hash
    FROM raw.pageviews_extract
    WHERE load_hour = $start
)
SELECT
    l.landing_rows,
    l.landing_hash,
    l.dated_rows,
    l.rows_in_window,
    l.rows_after_window,
    l.first_view,
    l.last_view,
    (
        SELECT date_trunc('hour', pageview_datetime)
        FROM landing.pageviews_extract
        WHERE pageview_datetime IS NOT NULL
        GROUP BY 1
        -- The sensor's rule: on a tie the earlier hour is the load's own.
        ORDER BY count(*) DESC, 1
        LIMIT 1
    ) AS busiest_hour,
    EXISTS (SELECT 1 FROM ops.pageview_load_captures WHERE load_hour = $start) AS was_captured,
    c.captured_rows,
    c.captured_hash,
    (
        SELECT min(o.load_hour)
        FROM ops.pageview_load_captures AS o
        WHERE l.landing_rows > 0
            AND o.load_hour <> $start
            AND o.captured_rows = l.landing_rows
            AND o.content_hash = l.landing_hash
    ) AS same_content_captured_as
FROM landing AS l
CROSS JOIN captured AS c
