-- make bench-publish: one more view for every $modulo-th postcode in $hour, in both hourly
-- aggregates and the day and month holding it, as a load reaching that hour would.
UPDATE agg.pageviews_by_postcode_at_view_hourly SET pageviews = pageviews + 1
WHERE pageview_hour = $hour AND hash(postcode) % $modulo = 0;
UPDATE agg.pageviews_by_current_postcode_hourly SET pageviews = pageviews + 1
WHERE pageview_hour = $hour AND hash(postcode) % $modulo = 0;
UPDATE agg.pageviews_by_postcode_at_view_daily SET pageviews = pageviews + 1
WHERE pageview_day = date_trunc('day', $hour) AND hash(postcode) % $modulo = 0;
UPDATE agg.pageviews_by_current_postcode_daily SET pageviews = pageviews + 1
WHERE pageview_day = date_trunc('day', $hour) AND hash(postcode) % $modulo = 0;
UPDATE agg.pageviews_by_postcode_at_view_monthly SET pageviews = pageviews + 1
WHERE pageview_month = date_trunc('month', $hour) AND hash(postcode) % $modulo = 0;
UPDATE agg.pageviews_by_current_postcode_monthly SET pageviews = pageviews + 1
WHERE pageview_month = date_trunc('month', $hour) AND hash(postcode) % $modulo = 0;
-- What the writers record in the same transaction for the next publish.
INSERT INTO ops.bi_unpublished_hours
VALUES ('postcode_at_view', $hour), ('current_postcode', $hour);
