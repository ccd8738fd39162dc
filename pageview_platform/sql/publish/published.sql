-- After the rename: the file at the path is generation $generation and holds every change
-- recorded so far. When it was a patch ($kept) and the file it replaced is now the spare
-- (generation $generation - 1), the changes it applied are kept, so the next publish can bring
-- the spare up to date instead of copying the file; else there is no usable spare. One
-- transaction; the run's connection holds the warehouse, so no change was recorded since the
-- publish read them.
BEGIN TRANSACTION;
DELETE FROM ops.bi_last_published_hours;
DELETE FROM ops.bi_last_published_cells;
DELETE FROM ops.bi_spare;
INSERT INTO ops.bi_last_published_hours
SELECT answer, pageview_hour FROM ops.bi_unpublished_hours WHERE $kept;
INSERT INTO ops.bi_last_published_cells
SELECT answer, grain, period_start, postcode, pageviews FROM ops.bi_unpublished_cells WHERE $kept;
INSERT INTO ops.bi_spare
SELECT $generation - 1 WHERE $kept;
DELETE FROM ops.bi_unpublished_hours;
DELETE FROM ops.bi_unpublished_cells;
DELETE FROM ops.bi_publication;
INSERT INTO ops.bi_publication VALUES ($generation, $published_at);
COMMIT;
