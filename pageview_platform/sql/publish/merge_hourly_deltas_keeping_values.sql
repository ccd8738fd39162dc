-- DuckDB, when the BI database is published: moves both hourly aggregates by the deltas staged
-- for them, as transform/merge_hourly_deltas.sql does, and keeps every moved cell's new value
-- in hourly_values. record_delta_cells.sql records those values with the cells, and the publish
-- writes them as they are (patch_cells.sql): reading them back from the aggregates would scan
-- every hour the load's late rows reach a second time, after the join here.
-- The join finds each cell's row (its rowid) and new value; the update then goes by rowid and
-- the cells the aggregate did not hold are inserted. DuckDB's MERGE and UPDATE can return their
-- rows, but feeding them to another statement cost 1.1 s more per million rows than the MERGE
-- (docs/performance.md).
CREATE OR REPLACE TEMP TABLE hourly_values AS
SELECT
    'postcode_at_view' AS answer,
    d.pageview_hour,
    d.postcode,
    d.pageviews AS delta,
    coalesce(a.pageviews, 0) + d.pageviews AS pageviews,
    a.rowid AS aggregate_row
FROM at_view_delta AS d
LEFT JOIN agg.pageviews_by_postcode_at_view_hourly AS a
    ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode;

INSERT INTO hourly_values
SELECT
    'current_postcode',
    d.pageview_hour,
    d.postcode,
    d.pageviews,
    coalesce(a.pageviews, 0) + d.pageviews,
    a.rowid
FROM current_recent_delta AS d
LEFT JOIN agg.pageviews_by_current_postcode_hourly AS a
    ON a.pageview_hour = d.pageview_hour AND a.postcode = d.postcode;

UPDATE agg.pageviews_by_postcode_at_view_hourly AS a
SET pageviews = v.pageviews
FROM hourly_values AS v
WHERE v.answer = 'postcode_at_view' AND a.rowid = v.aggregate_row;

UPDATE agg.pageviews_by_current_postcode_hourly AS a
SET pageviews = v.pageviews
FROM hourly_values AS v
WHERE v.answer = 'current_postcode' AND a.rowid = v.aggregate_row;

INSERT INTO agg.pageviews_by_postcode_at_view_hourly (pageview_hour, postcode, pageviews)
SELECT pageview_hour, postcode, pageviews
FROM hourly_values
WHERE answer = 'postcode_at_view' AND aggregate_row IS NULL;

INSERT INTO agg.pageviews_by_current_postcode_hourly (pageview_hour, postcode, pageviews)
SELECT pageview_hour, postcode, pageviews
FROM hourly_values
WHERE answer = 'current_postcode' AND aggregate_row IS NULL;
