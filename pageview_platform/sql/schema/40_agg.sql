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
