-- How many rows a patch would rewrite (changed_periods.sql), against the rows the file holds.
SELECT
    (SELECT coalesce(sum(rows_rewritten), 0) FROM temp.bi_changed_periods) AS rows_rewritten,
    (SELECT coalesce(sum(row_count), 0) FROM published.publication_periods) AS rows_published;
