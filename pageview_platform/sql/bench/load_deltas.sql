-- make bench-publish: a load's deltas as merge_pageviews_load.sql stages them: one view in
-- $hour (a new hour) for every postcode, and one late view in each of the $late_hours hours
-- before it for $late_postcodes postcodes (spread over the codes), in both answers (nobody
-- moved).
CREATE OR REPLACE TEMP TABLE at_view_delta AS
SELECT pageview_hour, 'P' || lpad(code::VARCHAR, 7, '0') AS postcode,
    CAST(count(*) AS BIGINT) AS pageviews
FROM (
    SELECT $hour AS pageview_hour, p AS code FROM range($postcodes) AS codes(p)
    UNION ALL
    SELECT $hour - to_hours(1 + h), (h * 7919 + k * 104729) % $postcodes
    FROM range($late_hours) AS hours(h), range($late_postcodes) AS late(k)
)
GROUP BY 1, 2;
CREATE OR REPLACE TEMP TABLE current_delta AS SELECT * FROM at_view_delta;
CREATE OR REPLACE TEMP TABLE current_month_delta AS
SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, postcode,
    sum(pageviews) AS pageviews
FROM current_delta
GROUP BY 1, 2;
INSERT INTO ops.pageview_load_hours VALUES ($hour, $hour);
