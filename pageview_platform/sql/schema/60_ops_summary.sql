-- The per-day quarantine summary an operator reads: one row per extract and reason with the
-- rows quarantined, and the rows the day captured for context (reason NULL and no rows
-- quarantined when the extract captured rows and quarantined none). Written by the
-- ops/quarantine_summary asset through the pandas I/O manager, a day's partition at a time.
CREATE TABLE IF NOT EXISTS ops.quarantine_summary (
    summary_date TIMESTAMP NOT NULL,
    extract VARCHAR NOT NULL,
    reason VARCHAR,
    quarantined_rows BIGINT NOT NULL,
    captured_rows BIGINT NOT NULL
);
