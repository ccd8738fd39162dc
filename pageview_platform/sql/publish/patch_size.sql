-- Whether a patch is worth it: the hours changed since the last publish against the hours
-- the warehouse holds views for (the captures' log, not the aggregates: no scan of history).
SELECT
    (SELECT count(DISTINCT pageview_hour) FROM ops.bi_unpublished_hours) AS hours_changed,
    (SELECT count(DISTINCT pageview_hour) FROM ops.pageview_load_hours) AS hours_held;
