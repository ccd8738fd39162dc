-- What this publish rewrites: the hours and cells changed since the last publish, and, when it
-- patches the spare (the file the last publish replaced, one generation behind), also those the
-- last publish applied ($spare: ops.bi_last_published_*). The scripts after it read these.
CREATE OR REPLACE TEMP TABLE bi_pending_hours AS
SELECT answer, pageview_hour FROM ops.bi_unpublished_hours
UNION ALL
SELECT answer, pageview_hour FROM ops.bi_last_published_hours WHERE $spare;

-- A cell both hold is the unpublished one: its value (pageviews, record_delta_cells.sql) is the
-- later, and the one the aggregate holds now, since every change of the aggregate records its
-- cells or hours again.
CREATE OR REPLACE TEMP TABLE bi_pending_cells AS
SELECT answer, grain, period_start, postcode, pageviews FROM ops.bi_unpublished_cells
UNION ALL
SELECT l.answer, l.grain, l.period_start, l.postcode, l.pageviews
FROM ops.bi_last_published_cells AS l
WHERE $spare
    AND NOT EXISTS (
        SELECT 1 FROM ops.bi_unpublished_cells AS u
        WHERE u.answer = l.answer
            AND u.grain = l.grain
            AND u.period_start = l.period_start
            AND u.postcode = l.postcode
    );
