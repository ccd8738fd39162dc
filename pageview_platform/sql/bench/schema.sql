-- A yardstick's own file (the floor's, with floor/schema.sql, and the algorithmic baseline's):
-- the platform's path (captured copies -> postcode history and fact -> hourly aggregates -> BI
-- views) kept up to date by plain SQL, one load at a time.
CREATE TABLE IF NOT EXISTS captured_users (
    snapshot_date TIMESTAMP NOT NULL,
    id BIGINT,
    postcode VARCHAR
);
CREATE TABLE IF NOT EXISTS captured_pageviews (
    load_hour TIMESTAMP NOT NULL,
    user_id BIGINT,
    url VARCHAR,
    pageview_datetime TIMESTAMP
);
-- SCD type 2: valid_to is the next version's valid_from (exclusive), NULL while current.
CREATE TABLE IF NOT EXISTS user_postcode_history (
    user_id BIGINT NOT NULL,
    postcode VARCHAR NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP,
    is_current BOOLEAN NOT NULL,
    version_number INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pageview_fact (
    pageview_hour TIMESTAMP NOT NULL,
    user_id BIGINT NOT NULL,
    url VARCHAR NOT NULL,
    pageview_datetime TIMESTAMP NOT NULL,
    view_count BIGINT NOT NULL,
    postcode_at_view VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pageviews_by_postcode_at_view_hourly (
    pageview_hour TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS pageviews_by_current_postcode_hourly (
    pageview_hour TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);

-- The BI contract, as the platform publishes it: period_start, postcode, pageviews.
CREATE SCHEMA IF NOT EXISTS bi;
CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM main.pageviews_by_postcode_at_view_hourly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_daily AS
SELECT
    CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM main.pageviews_by_postcode_at_view_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_monthly AS
SELECT
    CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM main.pageviews_by_postcode_at_view_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM main.pageviews_by_current_postcode_hourly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_daily AS
SELECT
    CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM main.pageviews_by_current_postcode_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_monthly AS
SELECT
    CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM main.pageviews_by_current_postcode_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;
