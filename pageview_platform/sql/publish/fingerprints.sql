-- What the warehouse's bi views answer now, per view and period: the rows and an
-- order-independent fingerprint of them. A publish compares it with what the published file
-- holds (publication_periods) and rewrites only the periods that differ.
CREATE OR REPLACE TEMP TABLE bi_fingerprints AS
SELECT 'pageviews_by_postcode_at_view_hourly' AS view_name, period_start,
    count(*) AS row_count, sum(hash(postcode, pageviews)) AS fingerprint
FROM bi.pageviews_by_postcode_at_view_hourly GROUP BY period_start
UNION ALL
SELECT 'pageviews_by_postcode_at_view_daily', period_start, count(*), sum(hash(postcode, pageviews))
FROM bi.pageviews_by_postcode_at_view_daily GROUP BY period_start
UNION ALL
SELECT 'pageviews_by_postcode_at_view_monthly', period_start, count(*), sum(hash(postcode, pageviews))
FROM bi.pageviews_by_postcode_at_view_monthly GROUP BY period_start
UNION ALL
SELECT 'pageviews_by_current_postcode_hourly', period_start, count(*), sum(hash(postcode, pageviews))
FROM bi.pageviews_by_current_postcode_hourly GROUP BY period_start
UNION ALL
SELECT 'pageviews_by_current_postcode_daily', period_start, count(*), sum(hash(postcode, pageviews))
FROM bi.pageviews_by_current_postcode_daily GROUP BY period_start
UNION ALL
SELECT 'pageviews_by_current_postcode_monthly', period_start, count(*), sum(hash(postcode, pageviews))
FROM bi.pageviews_by_current_postcode_monthly GROUP BY period_start;
