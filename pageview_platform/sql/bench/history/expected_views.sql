-- bench/history.py: the views of [$from, $to) with both postcodes recomputed from the history
-- alone, by the rules (not from postcode_at_view or the aggregates): at view, the version
-- whose validity holds the view (a first version also covers the views before it), and the
-- current version; UNKNOWN for a user without one.
CREATE OR REPLACE TEMP TABLE bench_expected_views AS
SELECT
    f.pageview_hour,
    f.view_count,
    f.postcode_at_view AS stored_postcode_at_view,
    coalesce(a.postcode, 'UNKNOWN') AS postcode_at_view,
    coalesce(c.postcode, 'UNKNOWN') AS current_postcode
FROM core.pageview_fact AS f
LEFT JOIN core.user_postcode_history AS a
    ON a.user_id = f.user_id
    AND (a.valid_from <= f.pageview_datetime OR a.version_number = 1)
    AND (a.valid_to IS NULL OR f.pageview_datetime < a.valid_to)
LEFT JOIN core.user_postcode_history AS c ON c.user_id = f.user_id AND c.is_current
WHERE f.pageview_hour >= $from AND f.pageview_hour < $to;
