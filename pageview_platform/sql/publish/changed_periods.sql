-- The periods whose published rows differ from the warehouse's (new, changed or gone), and how
-- many rows a patch rewrites there: the published file's plus the warehouse's.
CREATE OR REPLACE TEMP TABLE bi_changed_periods AS
SELECT
    coalesce(fresh.view_name, held.view_name) AS view_name,
    coalesce(fresh.period_start, held.period_start) AS period_start,
    coalesce(fresh.row_count, 0) + coalesce(held.row_count, 0) AS rows_rewritten
FROM temp.bi_fingerprints AS fresh
FULL OUTER JOIN published.publication_periods AS held
    ON held.view_name = fresh.view_name AND held.period_start = fresh.period_start
WHERE fresh.row_count IS DISTINCT FROM held.row_count
    OR fresh.fingerprint IS DISTINCT FROM held.fingerprint;
