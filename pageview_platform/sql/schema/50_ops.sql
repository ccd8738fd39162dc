-- Every alert the platform raised, whatever else it was sent to.
CREATE TABLE IF NOT EXISTS ops.alerts (
    raised_at TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    run_id VARCHAR
);
-- One row per capture of a load and pageview hour it touched, appended in the capture's own
-- transaction: the hours any capture of a load ever touched are the hours to rebuild.
CREATE TABLE IF NOT EXISTS ops.pageview_load_hours (
    load_hour TIMESTAMP NOT NULL,
    pageview_hour TIMESTAMP NOT NULL,
    captured_at TIMESTAMP NOT NULL
);
-- One row per capture of a users snapshot: a date captured twice was replaced.
CREATE TABLE IF NOT EXISTS ops.users_snapshot_captures (
    snapshot_date TIMESTAMP NOT NULL,
    captured_rows BIGINT NOT NULL,
    captured_at TIMESTAMP NOT NULL
);
