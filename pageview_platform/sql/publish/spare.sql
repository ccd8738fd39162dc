-- The spare BI database file's generation, the seconds the changes that bring it to the
-- published one took to apply, and the last copy's speed (bytes a second): a row of NULLs when
-- there is no usable spare or no copy was timed yet.
SELECT
    (SELECT max(generation) FROM ops.bi_spare),
    (SELECT max(patch_seconds) FROM ops.bi_spare),
    (SELECT max(bytes_per_second) FROM ops.bi_copy_speed);
