-- What this publish rewrites: the hours and cells changed since the last publish, and, when it
-- patches the spare (the file the last publish replaced, one generation behind), also those the
-- last publish applied ($spare: ops.bi_last_published_*). The scripts after it read these.
CREATE OR REPLACE TEMP TABLE bi_pending_hours AS
SELECT answer, pageview_hour FROM ops.bi_unpublished_hours
UNION ALL
SELECT answer, pageview_hour FROM ops.bi_last_published_hours WHERE $spare;

CREATE OR REPLACE TEMP TABLE bi_pending_cells AS
SELECT answer, grain, period_start, postcode FROM ops.bi_unpublished_cells
UNION ALL
SELECT answer, grain, period_start, postcode FROM ops.bi_last_published_cells WHERE $spare;
