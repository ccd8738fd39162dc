-- Settings the validation rules read, written by deploy with bound parameters.
CREATE TABLE IF NOT EXISTS core.platform_settings (
    start_date TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS core.users_quarantine (
    snapshot_date TIMESTAMP NOT NULL,
    id BIGINT,
    postcode VARCHAR,
    reason VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS core.pageviews_quarantine (
    load_hour TIMESTAMP NOT NULL,
    user_id BIGINT,
    url VARCHAR,
    pageview_datetime TIMESTAMP,
    reason VARCHAR NOT NULL
);
-- SCD type 2: one row per postcode version; valid_to is the next version's valid_from
-- (exclusive), NULL while the version is current.
CREATE TABLE IF NOT EXISTS core.user_postcode_history (
    user_id BIGINT NOT NULL,
    postcode VARCHAR NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP,
    is_current BOOLEAN NOT NULL,
    version_number INTEGER NOT NULL
);
-- One row per distinct pageview (user_id, url, pageview_datetime); view_count > 1 for
-- identical views inside one load (double clicks).
CREATE TABLE IF NOT EXISTS core.pageview_fact (
    pageview_hour TIMESTAMP NOT NULL,
    user_id BIGINT NOT NULL,
    url VARCHAR NOT NULL,
    pageview_datetime TIMESTAMP NOT NULL,
    view_count BIGINT NOT NULL,
    postcode_at_view VARCHAR NOT NULL
);
