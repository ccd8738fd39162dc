-- The BI contract: period_start, postcode, pageviews; read from the hourly aggregates only.
CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_daily AS
SELECT
    CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM agg.pageviews_by_postcode_at_view_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_monthly AS
SELECT
    CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM agg.pageviews_by_postcode_at_view_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_hourly
WHERE pageviews > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_daily AS
SELECT
    CAST(date_trunc('day', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM agg.pageviews_by_current_postcode_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_monthly AS
SELECT
    CAST(date_trunc('month', pageview_hour) AS TIMESTAMP) AS period_start,
    postcode,
    CAST(sum(pageviews) AS BIGINT) AS pageviews
FROM agg.pageviews_by_current_postcode_hourly
GROUP BY 1, 2
HAVING sum(pageviews) > 0;
