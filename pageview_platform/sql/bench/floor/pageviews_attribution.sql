-- New identities and the postcode in force when they were viewed: the version covering the
-- view's time (the first version covers everything before it), else UNKNOWN. A view taken
-- by the user's current version (or by none) has its current postcode already.
CREATE OR REPLACE TEMP TABLE new_views AS
SELECT
    v.pageview_hour,
    v.user_id,
    v.url,
    v.pageview_datetime,
    v.view_count,
    coalesce(h.postcode, 'UNKNOWN') AS postcode_at_view,
    h.user_id IS NULL OR h.valid_to IS NULL AS at_current_version
FROM load_views AS v
ANTI JOIN known_views AS k
    ON k.pageview_datetime = v.pageview_datetime
    AND k.user_id = v.user_id
    AND k.url = v.url
LEFT JOIN user_postcode_history AS h
    ON h.user_id = v.user_id
    AND v.pageview_datetime
        >= CASE WHEN h.version_number = 1 THEN '-infinity'::TIMESTAMP ELSE h.valid_from END
    AND v.pageview_datetime < coalesce(h.valid_to, 'infinity'::TIMESTAMP)
