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
-- Daily and monthly rollups of both hourly aggregates, moved by the same deltas in the same
-- transactions (apply_aggregate_deltas.sql), so the day and month views read one stored row
-- per period and postcode instead of summing hours at query time.
CREATE TABLE IF NOT EXISTS agg.pageviews_by_postcode_at_view_daily (
    pageview_day TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS agg.pageviews_by_postcode_at_view_monthly (
    pageview_month TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS agg.pageviews_by_current_postcode_daily (
    pageview_day TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS agg.pageviews_by_current_postcode_monthly (
    pageview_month TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL
);
-- Each user's views per month in the hours before the current-postcode window
-- (ops.current_postcode_window): when a user moves, the current-postcode monthly answer moves
-- those views by these few rows a user, and the window's own views from the fact, so the night
-- reads no history (issue 16). The history step folds in each day the window leaves; the merge
-- and the rebuild of a replaced load add what they change before the window.
CREATE TABLE IF NOT EXISTS agg.pageviews_by_user_month (
    pageview_month TIMESTAMP NOT NULL,
    user_id BIGINT NOT NULL,
    pageviews BIGINT NOT NULL
);
