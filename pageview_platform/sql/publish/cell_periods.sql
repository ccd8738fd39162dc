-- The first and last period of the cells of one published table (the $grain answer by
-- $answer) that this publish rewrites (none: NULL): an hour's cell (temp.bi_pending_cells,
-- pending.sql) names its hour, day and month, a month's cell its month alone.
SELECT
    CAST(
        date_trunc(
            CASE $grain WHEN 'hourly' THEN 'hour' WHEN 'daily' THEN 'day' ELSE 'month' END,
            min(period_start)
        ) AS TIMESTAMP
    ),
    CAST(
        date_trunc(
            CASE $grain WHEN 'hourly' THEN 'hour' WHEN 'daily' THEN 'day' ELSE 'month' END,
            max(period_start)
        ) AS TIMESTAMP
    )
FROM temp.bi_pending_cells
WHERE answer = $answer AND (grain = 'hourly' OR $grain = 'monthly');
