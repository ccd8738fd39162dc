-- bench/history.py: the captured copies against the history, the fact and the capture logs
-- (what the real captures and merges would have derived from them). Reads every captured
-- row: run at small sizes. Every column is a count of violations.
WITH accepted AS (
    SELECT snapshot_date, id AS user_id, postcode_normalised AS postcode
    FROM core.users_extract_checked
    WHERE reject_reason IS NULL
),
snapshot_versions AS (
    SELECT user_id, postcode, snapshot_date AS valid_from
    FROM (
        SELECT
            *,
            lag(postcode) OVER (PARTITION BY user_id ORDER BY snapshot_date) AS previous_postcode
        FROM accepted
    ) AS sequenced
    WHERE postcode IS DISTINCT FROM previous_postcode
),
history_versions AS (
    SELECT user_id, postcode, valid_from FROM core.user_postcode_history
),
snapshot_captures AS (
    SELECT
        snapshot_date,
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(id, postcode)), 0) AS VARCHAR) AS content_hash
    FROM raw.users_extract
    GROUP BY snapshot_date
),
load_captures AS (
    SELECT
        load_hour,
        count(*) AS captured_rows,
        CAST(coalesce(sum(hash(user_id, url, pageview_datetime)), 0) AS VARCHAR) AS content_hash
    FROM raw.pageviews_extract
    GROUP BY load_hour
),
captured_views AS (
    SELECT date_trunc('hour', pageview_datetime) AS pageview_hour, user_id, url,
        pageview_datetime, count(*) AS view_count
    FROM raw.pageviews_extract
    GROUP BY ALL
),
fact_views AS (
    SELECT pageview_hour, user_id, url, pageview_datetime, view_count FROM core.pageview_fact
)
SELECT
    (
        SELECT count(*) FROM (
            (FROM snapshot_versions EXCEPT ALL FROM history_versions)
            UNION ALL
            (FROM history_versions EXCEPT ALL FROM snapshot_versions)
        ) AS differing
    ) AS versions_not_from_snapshots,
    (
        SELECT count(*)
        FROM snapshot_captures AS r
        FULL JOIN ops.users_snapshot_captures AS c ON c.snapshot_date = r.snapshot_date
        WHERE r.captured_rows IS DISTINCT FROM c.captured_rows
            OR r.content_hash IS DISTINCT FROM c.content_hash
    ) AS wrong_snapshot_captures,
    (
        SELECT count(*)
        FROM load_captures AS r
        FULL JOIN ops.pageview_load_captures AS c ON c.load_hour = r.load_hour
        WHERE coalesce(r.captured_rows, 0) IS DISTINCT FROM c.captured_rows
            OR coalesce(r.content_hash, '0') IS DISTINCT FROM c.content_hash
    ) AS wrong_load_captures,
    (
        SELECT count(*) FROM (
            (
                SELECT DISTINCT load_hour, date_trunc('hour', pageview_datetime)
                FROM raw.pageviews_extract
                EXCEPT ALL
                SELECT load_hour, pageview_hour FROM ops.pageview_load_hours
            )
            UNION ALL
            (
                SELECT load_hour, pageview_hour FROM ops.pageview_load_hours
                EXCEPT ALL
                SELECT DISTINCT load_hour, date_trunc('hour', pageview_datetime)
                FROM raw.pageviews_extract
            )
        ) AS differing
    ) AS wrong_load_hours,
    (
        SELECT count(*) FROM (
            (FROM captured_views EXCEPT ALL FROM fact_views)
            UNION ALL
            (FROM fact_views EXCEPT ALL FROM captured_views)
        ) AS differing
    ) AS fact_rows_not_from_loads
