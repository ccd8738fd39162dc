-- What a history rebuild's re-attribution changed (after reattribute_pageviews.sql and
-- apply_aggregate_deltas.sql, in the same transaction): the views it moved to another postcode
-- at view, the views it moved to another current postcode, and the users whose counted current
-- postcode it rewrote.
SELECT
    (SELECT coalesce(sum(view_count), 0) FROM reattributed_postcodes) AS views_moved_at_view,
    (SELECT coalesce(sum(pageviews), 0) FROM current_month_delta WHERE pageviews > 0)
        AS views_moved_current,
    (SELECT count(*) FROM reattributed_users) AS users_recounted
