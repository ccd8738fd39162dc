-- What the published file holds, written by every publish (new file or patch): one row saying
-- when, up to which load and snapshot, and its generation (the next publish patches a copy of
-- it only if the warehouse's last publish was that generation).
CREATE OR REPLACE TABLE published.publication AS
SELECT
    $published_at AS published_at,
    $generation AS generation,
    (SELECT max(load_hour) FROM ops.pageview_load_captures) AS latest_load_hour,
    (SELECT max(snapshot_date) FROM raw.users_extract) AS latest_snapshot_date,
    (SELECT max(recent_from) FROM ops.current_postcode_window) AS current_postcode_hours_from;
COMMENT ON TABLE published.publication IS 'When this BI database was published and the latest data it holds: one row.';
COMMENT ON COLUMN published.publication.published_at IS 'When the run that published this file finished writing it, in UTC.';
COMMENT ON COLUMN published.publication.latest_load_hour IS 'The latest pageviews load (its hour, UTC) captured when this file was published.';
COMMENT ON COLUMN published.publication.latest_snapshot_date IS 'The date of the latest accepted users snapshot when this file was published.';
COMMENT ON COLUMN published.publication.generation IS 'Counts the publishes from this warehouse: a patch of this file is generation + 1.';
COMMENT ON COLUMN published.publication.current_postcode_hours_from IS 'Where pageviews_by_current_postcode_hourly and _daily start (UTC; NULL: every period): by current postcode, earlier periods are answered by month only.';
