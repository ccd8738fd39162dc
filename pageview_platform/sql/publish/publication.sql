-- What the published file holds, written by every publish (new file or patch): one row saying
-- when and up to which load, and the per-period fingerprints the next publish compares with.
CREATE OR REPLACE TABLE published.publication AS
SELECT
    $published_at AS published_at,
    (SELECT max(load_hour) FROM ops.pageview_load_captures) AS latest_load_hour,
    (SELECT max(snapshot_date) FROM raw.users_extract) AS latest_snapshot_date;
COMMENT ON TABLE published.publication IS 'When this BI database was published and the latest data it holds: one row.';
COMMENT ON COLUMN published.publication.published_at IS 'When the run that published this file finished writing it, in UTC.';
COMMENT ON COLUMN published.publication.latest_load_hour IS 'The latest pageviews load (its hour, UTC) captured when this file was published.';
COMMENT ON COLUMN published.publication.latest_snapshot_date IS 'The date of the latest accepted users snapshot when this file was published.';
COMMENT ON TABLE published.publication_periods IS 'Bookkeeping of the publisher: per table and period, the rows and a fingerprint of them, so the next publish rewrites only the periods whose answers changed.';
COMMENT ON COLUMN published.publication_periods.view_name IS 'The table the period belongs to.';
COMMENT ON COLUMN published.publication_periods.period_start IS 'The period (hour, day or month start, UTC) of that table.';
COMMENT ON COLUMN published.publication_periods.row_count IS 'The rows the table holds for the period.';
COMMENT ON COLUMN published.publication_periods.fingerprint IS 'The sum of hash(postcode, pageviews) over those rows.';
