-- The extract process owns these tables; they are created only where it has not yet done so.
CREATE TABLE IF NOT EXISTS landing.users_extract (
    id BIGINT,
    postcode VARCHAR
);
CREATE TABLE IF NOT EXISTS landing.pageviews_extract (
    user_id BIGINT,
    url VARCHAR,
    pageview_datetime TIMESTAMP
);
