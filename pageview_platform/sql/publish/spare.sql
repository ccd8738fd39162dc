-- The generation of the spare BI database file, the one the changes kept in
-- ops.bi_last_published_* bring to the published one (NULL: no usable spare).
SELECT max(generation) FROM ops.bi_spare;
