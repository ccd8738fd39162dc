-- Whether a pageviews load with this fingerprint ($rows, $hash: the landing table's, as
-- pageviews_extract_landing_fingerprint.sql computes it) was captured, under any hour.
SELECT EXISTS (
    SELECT 1 FROM ops.pageview_load_captures
    WHERE captured_rows = $rows AND content_hash = $hash
)
