-- A patch of the published file (a copy of the last one, attached as `published`): each view's
-- changed periods (changed_periods.sql) deleted and read again from the warehouse.

DELETE FROM published.pageviews_by_postcode_at_view_hourly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_hourly');
INSERT INTO published.pageviews_by_postcode_at_view_hourly
SELECT * FROM bi.pageviews_by_postcode_at_view_hourly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_hourly');

DELETE FROM published.pageviews_by_postcode_at_view_daily
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_daily');
INSERT INTO published.pageviews_by_postcode_at_view_daily
SELECT * FROM bi.pageviews_by_postcode_at_view_daily
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_daily');

DELETE FROM published.pageviews_by_postcode_at_view_monthly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_monthly');
INSERT INTO published.pageviews_by_postcode_at_view_monthly
SELECT * FROM bi.pageviews_by_postcode_at_view_monthly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_postcode_at_view_monthly');

DELETE FROM published.pageviews_by_current_postcode_hourly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_hourly');
INSERT INTO published.pageviews_by_current_postcode_hourly
SELECT * FROM bi.pageviews_by_current_postcode_hourly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_hourly');

DELETE FROM published.pageviews_by_current_postcode_daily
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_daily');
INSERT INTO published.pageviews_by_current_postcode_daily
SELECT * FROM bi.pageviews_by_current_postcode_daily
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_daily');

DELETE FROM published.pageviews_by_current_postcode_monthly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_monthly');
INSERT INTO published.pageviews_by_current_postcode_monthly
SELECT * FROM bi.pageviews_by_current_postcode_monthly
WHERE period_start IN (SELECT period_start FROM temp.bi_changed_periods WHERE view_name = 'pageviews_by_current_postcode_monthly');
