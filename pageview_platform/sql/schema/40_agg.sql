CREATE TABLE IF NOT EXISTS agg.pageviews_by_postcode_at_view_hourly (
    pageview_hour TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS agg.pageviews_by_current_postcode_hourly (
    pageview_hour TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
-- The postcode each user's views are counted under in pageviews_by_current_postcode_hourly
-- (their current version's; users without one count as UNKNOWN), kept in the same
-- transactions as that aggregate so a snapshot moves each user's views exactly once.
CREATE TABLE IF NOT EXISTS agg.current_postcode_by_user (
    user_id BIGINT NOT NULL,
    postcode VARCHAR NOT NULL,
    valid_from TIMESTAMP NOT NULL
);
