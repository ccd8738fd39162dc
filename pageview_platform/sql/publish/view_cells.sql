-- The cells of one published table ({table}: the $grain answer by $answer) that this publish
-- rewrites: an hour's cell (temp.bi_pending_cells, pending.sql) names its hour, day and month
-- for its postcode, a month's cell its month alone. $first and $last are their first and last
-- period.

-- Each cell once, as a period of this table and a postcode, with its value when this is the
-- hourly table and the cell's one pending record carries the hour's value (pending.sql); else
-- NULL: its row is read back from the warehouse's view (a day's or month's cell, a month's
-- cell, or a cell recorded twice since the last publish, whose records' order is not kept).
CREATE OR REPLACE TEMP TABLE bi_view_cells AS
SELECT
    CAST(
        date_trunc(
            CASE $grain WHEN 'hourly' THEN 'hour' WHEN 'daily' THEN 'day' ELSE 'month' END,
            period_start
        ) AS TIMESTAMP
    ) AS period_start,
    postcode,
    CASE WHEN $grain = 'hourly' AND count(*) = 1 THEN max(pageviews) END AS pageviews
FROM temp.bi_pending_cells
WHERE answer = $answer AND (grain = 'hourly' OR $grain = 'monthly')
GROUP BY 1, 2;

-- A period in which the cells are at least half the rows the file holds (a period it does not
-- hold yet, the day and month of a snapshot's many movers) is rewritten whole, like the periods
-- changed_periods.sql lists: reading it whole costs less than looking its cells up.
INSERT INTO temp.bi_changed_periods (view_name, period_start)
WITH cells AS (
    SELECT period_start, count(*) AS cells FROM temp.bi_view_cells GROUP BY period_start
),
held AS (
    SELECT period_start, count(*) AS held
    FROM published.{table}
    WHERE period_start BETWEEN $first AND $last
    GROUP BY period_start
)
SELECT $view, c.period_start
FROM cells AS c
LEFT JOIN held AS h ON h.period_start = c.period_start
WHERE 2 * c.cells >= coalesce(h.held, 0)
    AND c.period_start NOT IN (
        SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view
    );

-- The cells of the periods rewritten whole need no patch of their own.
DELETE FROM temp.bi_view_cells
WHERE period_start IN (
    SELECT period_start FROM temp.bi_changed_periods WHERE view_name = $view
);

-- The other periods' cells' first and last period, which bound the patch's scan of the file,
-- and those of the cells read back from the view, which bound its scan of the view
-- (patch_cells.sql, read_cells.sql).
SELECT
    min(period_start),
    max(period_start),
    min(period_start) FILTER (WHERE pageviews IS NULL),
    max(period_start) FILTER (WHERE pageviews IS NULL)
FROM temp.bi_view_cells;
