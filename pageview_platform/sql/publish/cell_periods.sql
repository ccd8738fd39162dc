-- The first and last period of the cells of one published table (the $grain answer by
-- $answer) that changed since the last publish (none: NULL): an hour's cell
-- (ops.bi_unpublished_cells) names its hour, day and month, a month's cell its month alone.
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
FROM ops.bi_unpublished_cells
WHERE answer = $answer AND (grain = 'hourly' OR $grain = 'monthly');
