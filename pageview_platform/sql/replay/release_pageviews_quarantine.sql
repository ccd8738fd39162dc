-- Re-derives the quarantine of the loads in the window under the current rules, recording the
-- rows that leave it; the merge in the same transaction admits them.
INSERT INTO ops.pageviews_quarantine_replays BY NAME
SELECT
    q.load_hour,
    q.user_id,
    q.url,
    q.pageview_datetime,
    q.reason,
    CAST($replayed_at AS TIMESTAMP) AS replayed_at,
    CAST($run_id AS VARCHAR) AS run_id
FROM core.pageviews_quarantine AS q
WHERE q.load_hour >= $start AND q.load_hour < $end
    AND NOT EXISTS (
        SELECT 1
        FROM core.pageviews_extract_checked AS c
        WHERE c.load_hour = q.load_hour
            AND c.user_id IS NOT DISTINCT FROM q.user_id
            AND c.url IS NOT DISTINCT FROM q.url
            AND c.pageview_datetime IS NOT DISTINCT FROM q.pageview_datetime
            AND c.reject_reason IS NOT NULL
    );

DELETE FROM core.pageviews_quarantine WHERE load_hour >= $start AND load_hour < $end;

INSERT INTO core.pageviews_quarantine BY NAME
SELECT load_hour, user_id, url, pageview_datetime, reject_reason AS reason
FROM core.pageviews_extract_checked
WHERE load_hour >= $start AND load_hour < $end AND reject_reason IS NOT NULL;
