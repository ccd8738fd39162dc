-- The load's content, unless an earlier capture of the same load hour had the very same.
INSERT INTO ops.pageview_load_captures
SELECT load_hour, captured_rows, content_hash
FROM (
    SELECT
        CAST($start AS TIMESTAMP) AS load_hour,
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(user_id, url, pageview_datetime)), 0) AS VARCHAR) AS content_hash
    FROM raw.pageviews_extract
    WHERE load_hour = $start
) AS captured
WHERE NOT EXISTS (
    SELECT 1
    FROM ops.pageview_load_captures AS c
    WHERE c.load_hour = captured.load_hour AND c.content_hash = captured.content_hash
)
