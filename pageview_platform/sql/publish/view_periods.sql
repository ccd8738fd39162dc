-- The first and last of one published table's periods to rewrite whole ($view's rows of
-- temp.bi_changed_periods: changed_periods.sql and view_cells.sql), NULL when it has none.
SELECT min(period_start), max(period_start)
FROM temp.bi_changed_periods
WHERE view_name = $view;
