-- After the rename: the file at the path is generation $generation and holds every change
-- recorded so far. One transaction; the run's connection holds the warehouse, so no change was
-- recorded since the publish read them.
BEGIN TRANSACTION;
DELETE FROM ops.bi_unpublished_hours;
DELETE FROM ops.bi_unpublished_cells;
DELETE FROM ops.bi_publication;
INSERT INTO ops.bi_publication VALUES ($generation, $published_at);
COMMIT;
