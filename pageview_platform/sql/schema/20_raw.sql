-- Durable, verbatim copies of every accepted landing load, bad rows included, keyed by the load.
CREATE TABLE IF NOT EXISTS raw.users_extract (
    snapshot_date TIMESTAMP NOT NULL,
    id BIGINT,
    postcode VARCHAR
);
-- A users snapshot a blocking check held (empty, or shrunk against the latest accepted one):
-- kept verbatim, since the landing table will be reloaded, but read by nothing downstream.
-- The date's accepted snapshot, if any, stays in raw.users_extract until an operator accepts
-- the held one (`pageview-platform accept-snapshot`) or a passing snapshot of the date lands.
CREATE TABLE IF NOT EXISTS raw.users_extract_held (
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
