-- Rebuilds, from every captured load, the hours that any capture of a replaced load in the
-- window touched (replaced_pageview_loads.sql finds them): a replaced load can lower or remove
-- counts, which a merge cannot. merge_pageviews_load.sql runs after it, in the same transaction.
CREATE OR REPLACE TEMP TABLE rebuilt_hours AS
SELECT DISTINCT pageview_hour
FROM ops.pageview_load_hours
WHERE load_hour IN (
    SELECT load_hour
    FROM ops.pageview_load_captures
    WHERE load_hour >= $start AND load_hour < $end
    GROUP BY load_hour
    HAVING count(*) > 1
);

DELETE FROM core.pageview_fact WHERE pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours);

INSERT INTO core.pageview_fact BY NAME
WITH per_load AS (
    SELECT load_hour, user_id, url, pageview_datetime, count(*) AS views_in_load
    FROM core.pageviews_extract_checked
    WHERE reject_reason IS NULL
        AND date_trunc('hour', pageview_datetime) IN (SELECT pageview_hour FROM rebuilt_hours)
    GROUP BY load_hour, user_id, url, pageview_datetime
),
pageview AS (
    SELECT user_id, url, pageview_datetime, max(views_in_load) AS view_count
    FROM per_load
    GROUP BY user_id, url, pageview_datetime
)
SELECT
    date_trunc('hour', p.pageview_datetime) AS pageview_hour,
    p.user_id,
    p.url,
    p.pageview_datetime,
    p.view_count,
    coalesce(a.postcode, 'UNKNOWN') AS postcode_at_view
FROM pageview AS p
LEFT JOIN core.user_postcode_in_force AS a
    ON a.user_id = p.user_id
    AND p.pageview_datetime >= a.in_force_from
    AND p.pageview_datetime < a.in_force_to;

DELETE FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours);

INSERT INTO agg.pageviews_by_postcode_at_view_hourly BY NAME
SELECT pageview_hour, postcode_at_view AS postcode, sum(view_count) AS pageviews
FROM core.pageview_fact
WHERE pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours)
GROUP BY pageview_hour, postcode_at_view;

DELETE FROM agg.pageviews_by_current_postcode_hourly
WHERE pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours);

INSERT INTO agg.pageviews_by_current_postcode_hourly BY NAME
SELECT f.pageview_hour, coalesce(u.postcode, 'UNKNOWN') AS postcode, sum(f.view_count) AS pageviews
FROM core.pageview_fact AS f
LEFT JOIN agg.current_postcode_by_user AS u ON u.user_id = f.user_id
WHERE f.pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours)
GROUP BY f.pageview_hour, coalesce(u.postcode, 'UNKNOWN');

-- The rollups of the rebuilt hours' days and months, summed again from the rebuilt hours.
CREATE OR REPLACE TEMP TABLE rebuilt_days AS
SELECT DISTINCT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day
FROM rebuilt_hours;

DELETE FROM agg.pageviews_by_postcode_at_view_daily
WHERE pageview_day IN (SELECT pageview_day FROM rebuilt_days);

INSERT INTO agg.pageviews_by_postcode_at_view_daily BY NAME
SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day, postcode,
    sum(pageviews) AS pageviews
FROM agg.pageviews_by_postcode_at_view_hourly
WHERE date_trunc('day', pageview_hour) IN (SELECT pageview_day FROM rebuilt_days)
GROUP BY 1, 2;

DELETE FROM agg.pageviews_by_postcode_at_view_monthly
WHERE pageview_month IN (
    SELECT DISTINCT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) FROM rebuilt_days
);

INSERT INTO agg.pageviews_by_postcode_at_view_monthly BY NAME
SELECT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) AS pageview_month, postcode,
    sum(pageviews) AS pageviews
FROM agg.pageviews_by_postcode_at_view_daily
WHERE CAST(date_trunc('month', pageview_day) AS TIMESTAMP) IN (
    SELECT DISTINCT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) FROM rebuilt_days
)
GROUP BY 1, 2;

DELETE FROM agg.pageviews_by_current_postcode_daily
WHERE pageview_day IN (SELECT pageview_day FROM rebuilt_days);

INSERT INTO agg.pageviews_by_current_postcode_daily BY NAME
SELECT CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS pageview_day, postcode,
    sum(pageviews) AS pageviews
FROM agg.pageviews_by_current_postcode_hourly
WHERE date_trunc('day', pageview_hour) IN (SELECT pageview_day FROM rebuilt_days)
GROUP BY 1, 2;

DELETE FROM agg.pageviews_by_current_postcode_monthly
WHERE pageview_month IN (
    SELECT DISTINCT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) FROM rebuilt_days
);

INSERT INTO agg.pageviews_by_current_postcode_monthly BY NAME
SELECT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) AS pageview_month, postcode,
    sum(pageviews) AS pageviews
FROM agg.pageviews_by_current_postcode_daily
WHERE CAST(date_trunc('month', pageview_day) AS TIMESTAMP) IN (
    SELECT DISTINCT CAST(date_trunc('month', pageview_day) AS TIMESTAMP) FROM rebuilt_days
)
GROUP BY 1, 2;
