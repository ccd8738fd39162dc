-- Loads holding quarantined rows the current rules accept. Identical rows always share a
-- reason, so a row with any identical twin still rejected is still rejected.
SELECT DISTINCT q.load_hour
FROM core.pageviews_quarantine AS q
WHERE NOT EXISTS (
    SELECT 1
    FROM core.pageviews_extract_checked AS c
    WHERE c.load_hour = q.load_hour
        AND c.user_id IS NOT DISTINCT FROM q.user_id
        AND c.url IS NOT DISTINCT FROM q.url
        AND c.pageview_datetime IS NOT DISTINCT FROM q.pageview_datetime
        AND c.reject_reason IS NOT NULL
)
ORDER BY q.load_hour
