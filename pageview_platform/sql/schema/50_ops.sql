-- The schema scripts last deployed, by their hash: a process whose scripts hash the same (and
-- whose start date is the recorded one) has nothing to deploy.
CREATE TABLE IF NOT EXISTS ops.schema_deployment (
    ddl_hash VARCHAR NOT NULL,
    deployed_at TIMESTAMP NOT NULL
);
-- Every alert the platform raised, whatever else it was sent to.
CREATE TABLE IF NOT EXISTS ops.alerts (
    raised_at TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    run_id VARCHAR
);
-- Every pageview hour any capture of a load touched, kept in the capture's own transaction:
-- when a load is replaced, the hours it used to touch must be rebuilt too.
CREATE TABLE IF NOT EXISTS ops.pageview_load_hours (
    load_hour TIMESTAMP NOT NULL,
    pageview_hour TIMESTAMP NOT NULL
);
-- Every distinct content a users snapshot was captured with: two for one date means the
-- snapshot was replaced, and any postcode may have moved.
CREATE TABLE IF NOT EXISTS ops.users_snapshot_captures (
    snapshot_date TIMESTAMP NOT NULL,
    captured_rows BIGINT NOT NULL,
    content_hash VARCHAR NOT NULL
);
-- The distinct users of each date's accepted snapshot (raw.users_extract), counted once in the
-- capture's transaction: the next snapshot's shrink guard and check read the previous one's
-- here, not by counting its 20M ids again (1.4 s each at the brief's volume).
CREATE TABLE IF NOT EXISTS ops.users_snapshot_users (
    snapshot_date TIMESTAMP NOT NULL,
    users BIGINT NOT NULL
);
-- Every distinct content a pageviews load was captured with: two for one load hour mean it was
-- replaced, and its hours are rebuilt from every captured load rather than merged.
CREATE TABLE IF NOT EXISTS ops.pageview_load_captures (
    load_hour TIMESTAMP NOT NULL,
    captured_rows BIGINT NOT NULL,
    content_hash VARCHAR NOT NULL
);
-- Every quarantined row a replay re-admitted (the rules it failed were corrected), with the
-- reason it had, when it left quarantine and the run that released it.
CREATE TABLE IF NOT EXISTS ops.users_quarantine_replays (
    snapshot_date TIMESTAMP NOT NULL,
    id BIGINT,
    postcode VARCHAR,
    reason VARCHAR NOT NULL,
    replayed_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ops.pageviews_quarantine_replays (
    load_hour TIMESTAMP NOT NULL,
    user_id BIGINT,
    url VARCHAR,
    pageview_datetime TIMESTAMP,
    reason VARCHAR NOT NULL,
    replayed_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
);
-- Why each held users snapshot (raw.users_extract_held) was held: one row per failed blocking
-- check. Cleared when the date's next capture is accepted, or moved to
-- ops.users_snapshot_acceptances when an operator accepts the held snapshot.
CREATE TABLE IF NOT EXISTS ops.users_snapshot_blocks (
    snapshot_date TIMESTAMP NOT NULL,
    check_name VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    blocked_at TIMESTAMP NOT NULL
);
-- Every held snapshot an operator accepted despite its checks, with what held it and the run.
CREATE TABLE IF NOT EXISTS ops.users_snapshot_acceptances (
    snapshot_date TIMESTAMP NOT NULL,
    check_name VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    blocked_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
);
-- Every captured load or snapshot that a capture replaced with other content: only ever on the
-- operator's explicit confirmation of the landing fingerprint (the CLI's ingest, or the run
-- config a UI launch sets), so a replaced load can always be traced to who replaced it.
CREATE TABLE IF NOT EXISTS ops.capture_replacements (
    asset VARCHAR NOT NULL,
    partition_start TIMESTAMP NOT NULL,
    replaced_fingerprint VARCHAR NOT NULL,
    new_fingerprint VARCHAR NOT NULL,
    replaced_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
);
-- Where the current-postcode hourly and daily answers start (one row; none before the first
-- users snapshot is built into history, when they hold every hour): the latest snapshot's date
-- minus PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS. Older hours and days are answered by month only,
-- so a night's moves never reach back through all history (issue 16). Advanced by the history
-- step (transform/current_postcode_window.sql), which drops the hours and days it leaves.
CREATE TABLE IF NOT EXISTS ops.current_postcode_window (
    recent_from TIMESTAMP NOT NULL
);
-- DuckDB: the hours whose answers (postcode_at_view or current_postcode) changed since the BI
-- database was last published. The steps that move the aggregates add them in their own
-- transaction; the publish rewrites those periods in a copy of the last file, then clears them
-- (warehouse/publish.py). Nothing writes it on Snowflake, where BI reads the views.
CREATE TABLE IF NOT EXISTS ops.bi_unpublished_hours (
    answer VARCHAR NOT NULL,
    pageview_hour TIMESTAMP NOT NULL
);
-- DuckDB: the cells (a period and a postcode of one answer) whose answers changed since the BI
-- database was last published, where the writer knows them: the merge's and the
-- re-attribution's deltas (publish/record_delta_cells.sql, in their transaction). An 'hourly'
-- cell is an hour's, and names that hour's, day's and month's rows for its postcode; a
-- 'monthly' cell a month's row alone (the current-postcode months before its window of hours
-- and days). The publish rewrites those rows in a copy of the last file, then clears them.
-- Whole hours stay in ops.bi_unpublished_hours: a rebuilt load's, those the window leaves, and
-- an hour in which a delta moved at least half the rows (a load's own hour).
-- An 'hourly' cell's pageviews is the hour's new value, as the writer's join of its delta to
-- the hourly aggregate found it (publish/merge_hourly_deltas_keeping_values.sql, whose update
-- then writes that value to the aggregate): the publish writes it as it is instead of reading
-- it back from the aggregate; NULL (a 'monthly' cell, or one recorded before the value was)
-- reads it back.
CREATE TABLE IF NOT EXISTS ops.bi_unpublished_cells (
    answer VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT
);
ALTER TABLE ops.bi_unpublished_cells ADD COLUMN IF NOT EXISTS pageviews BIGINT;
-- DuckDB: the hours and cells the last publish applied when it patched (copies of
-- ops.bi_unpublished_hours and ops.bi_unpublished_cells as they were), kept so the next publish
-- can bring the file it replaced (the spare, `<file>.spare`) up to date instead of copying the
-- published file, whose size grows with history (warehouse/publish.py).
CREATE TABLE IF NOT EXISTS ops.bi_last_published_hours (
    answer VARCHAR NOT NULL,
    pageview_hour TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS ops.bi_last_published_cells (
    answer VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start TIMESTAMP NOT NULL,
    postcode VARCHAR NOT NULL,
    pageviews BIGINT
);
ALTER TABLE ops.bi_last_published_cells ADD COLUMN IF NOT EXISTS pageviews BIGINT;
-- DuckDB: the generation of the spare BI database file, which the changes kept above bring to
-- the published one (one row; none when there is no usable spare).
CREATE TABLE IF NOT EXISTS ops.bi_spare (
    generation BIGINT NOT NULL
);
-- DuckDB: the generation of the BI database file last published (one row). A file at the path
-- holding another generation (older, restored, written from another warehouse) is written new.
CREATE TABLE IF NOT EXISTS ops.bi_publication (
    generation BIGINT NOT NULL,
    published_at TIMESTAMP NOT NULL
);
