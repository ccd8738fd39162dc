-- Durable, verbatim copies of every landing load, bad rows included, keyed by the load.
CREATE TABLE IF NOT EXISTS raw.users_extract (
    snapshot_date TIMESTAMP NOT NULL,
    id BIGINT,
    postcode VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.pageviews_extract (
    load_hour TIMESTAMP NOT NULL,
    user_id BIGINT,
    url VARCHAR,
    pageview_datetime TIMESTAMP
);
