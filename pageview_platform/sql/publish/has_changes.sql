-- Whether any hour or cell changed since the last publish.
SELECT EXISTS (SELECT 1 FROM ops.bi_unpublished_hours)
    OR EXISTS (SELECT 1 FROM ops.bi_unpublished_cells);
