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

-- The rebuilt hours before the current-postcode window, whose views agg.pageviews_by_user_month
-- counts, and each user's views per month in the rebuilt hours before the rebuild: that table
-- and the current-postcode monthly answer move by the difference (below).
CREATE OR REPLACE TEMP TABLE rebuilt_hours_before_window AS
SELECT r.pageview_hour
FROM rebuilt_hours AS r
WHERE EXISTS (
    SELECT 1 FROM ops.current_postcode_window AS w WHERE r.pageview_hour < w.recent_from
);

CREATE OR REPLACE TEMP TABLE rebuilt_views_before AS
SELECT
    CAST(date_trunc('month', f.pageview_hour) AS TIMESTAMP) AS pageview_month,
    f.user_id,
    b.pageview_hour IS NOT NULL AS before_window,
    sum(f.view_count) AS pageviews
FROM core.pageview_fact AS f
LEFT JOIN rebuilt_hours_before_window AS b ON b.pageview_hour = f.pageview_hour
WHERE f.pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours)
GROUP BY 1, 2, 3;

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

-- Only from ops.current_postcode_window's hour: older hours are answered by month only.
INSERT INTO agg.pageviews_by_current_postcode_hourly BY NAME
SELECT f.pageview_hour, coalesce(u.postcode, 'UNKNOWN') AS postcode, sum(f.view_count) AS pageviews
FROM core.pageview_fact AS f
LEFT JOIN agg.current_postcode_by_user AS u ON u.user_id = f.user_id
WHERE f.pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours)
    AND NOT EXISTS (
        SELECT 1 FROM ops.current_postcode_window AS w WHERE f.pageview_hour < w.recent_from
    )
GROUP BY f.pageview_hour, coalesce(u.postcode, 'UNKNOWN');

-- What the rebuild changed in each user's views per month before the window.
CREATE OR REPLACE TEMP TABLE user_month_delta AS
SELECT pageview_month, user_id, sum(pageviews) AS pageviews
FROM (
    SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, user_id,
        view_count AS pageviews
    FROM core.pageview_fact
    WHERE pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours_before_window)
    UNION ALL
    SELECT pageview_month, user_id, -pageviews
    FROM rebuilt_views_before
    WHERE before_window
) AS moved
GROUP BY pageview_month, user_id
HAVING sum(pageviews) <> 0;

MERGE INTO agg.pageviews_by_user_month AS a
USING user_month_delta AS d
ON a.pageview_month = d.pageview_month AND a.user_id = d.user_id
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, user_id, pageviews)
    VALUES (d.pageview_month, d.user_id, d.pageviews);

-- What it changed in the current-postcode monthly answer (which, unlike the hourly one, reaches
-- before the window): every rebuilt hour's views, old and new, each under its user's current
-- postcode.
CREATE OR REPLACE TEMP TABLE current_month_delta AS
SELECT m.pageview_month, coalesce(u.postcode, 'UNKNOWN') AS postcode, sum(m.pageviews) AS pageviews
FROM (
    SELECT CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS pageview_month, user_id,
        view_count AS pageviews
    FROM core.pageview_fact
    WHERE pageview_hour IN (SELECT pageview_hour FROM rebuilt_hours)
    UNION ALL
    SELECT pageview_month, user_id, -pageviews
    FROM rebuilt_views_before
) AS m
LEFT JOIN agg.current_postcode_by_user AS u ON u.user_id = m.user_id
GROUP BY 1, 2;

MERGE INTO agg.pageviews_by_current_postcode_monthly AS a
USING current_month_delta AS d
ON a.pageview_month = d.pageview_month AND a.postcode = d.postcode
WHEN MATCHED THEN UPDATE SET pageviews = a.pageviews + d.pageviews
WHEN NOT MATCHED THEN INSERT (pageview_month, postcode, pageviews)
    VALUES (d.pageview_month, d.postcode, d.pageviews);

-- The rollups of the rebuilt hours' days and months, summed again from the rebuilt hours (the
-- current-postcode monthly answer moved above).
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
