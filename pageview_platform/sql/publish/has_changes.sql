-- Whether any hour changed since the last publish.
SELECT EXISTS (SELECT 1 FROM ops.bi_unpublished_hours);
