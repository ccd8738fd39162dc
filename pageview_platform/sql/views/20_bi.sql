-- The BI contract: period_start, postcode, pageviews; read from the pre-aggregated tables only:
-- the hourly aggregates and their daily and monthly rollups (no summing at query time).
-- Rows a re-attribution brought to zero stay in the tables and are hidden here.
-- The COMMENTs say what each number means, for catalogs and BI tools (and the published BI
-- database, which copies them: warehouse/publish.py); no text here may end a line with ';'.

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_hourly
WHERE pageviews > 0;
COMMENT ON VIEW bi.pageviews_by_postcode_at_view_hourly IS 'Pageviews per hour per postcode the user had when viewing: from the latest accepted users snapshot dated on or before the day of the view holding the user, else the earliest one holding them, else UNKNOWN. A later snapshot re-attributes past views. One row per hour and postcode with views.';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_hourly.period_start IS 'Start of the hour in UTC (a TIMESTAMP without time zone, read as UTC); the hour covers [period_start, period_start + 1 hour).';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_hourly.postcode IS 'The postcode the user had at the time of the view, normalised (whitespace runs to one space, trimmed, a-z upper-cased), or UNKNOWN for a user no snapshot holds.';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_hourly.pageviews IS 'Pageviews in the hour: each distinct (user_id, url, pageview_datetime) counted once however many loads carried it (identical rows inside one load are separate views), quarantined rows excluded. Always above 0.';

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_daily AS
SELECT pageview_day AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_daily
WHERE pageviews > 0;
COMMENT ON VIEW bi.pageviews_by_postcode_at_view_daily IS 'Pageviews per day per postcode the user had when viewing: from the latest accepted users snapshot dated on or before the day of the view holding the user, else the earliest one holding them, else UNKNOWN. A later snapshot re-attributes past views. One row per day and postcode with views.';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_daily.period_start IS 'Start of the day in UTC (a TIMESTAMP without time zone, read as UTC); the day covers [period_start, period_start + 1 day).';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_daily.postcode IS 'The postcode the user had at the time of the view, normalised (whitespace runs to one space, trimmed, a-z upper-cased), or UNKNOWN for a user no snapshot holds.';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_daily.pageviews IS 'Pageviews in the day: each distinct (user_id, url, pageview_datetime) counted once however many loads carried it (identical rows inside one load are separate views), quarantined rows excluded. Always above 0.';

CREATE OR REPLACE VIEW bi.pageviews_by_postcode_at_view_monthly AS
SELECT pageview_month AS period_start, postcode, pageviews
FROM agg.pageviews_by_postcode_at_view_monthly
WHERE pageviews > 0;
COMMENT ON VIEW bi.pageviews_by_postcode_at_view_monthly IS 'Pageviews per month per postcode the user had when viewing: from the latest accepted users snapshot dated on or before the day of the view holding the user, else the earliest one holding them, else UNKNOWN. A later snapshot re-attributes past views. One row per month and postcode with views.';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_monthly.period_start IS 'Start of the month in UTC (a TIMESTAMP without time zone, read as UTC); the month covers [period_start, period_start + 1 month).';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_monthly.postcode IS 'The postcode the user had at the time of the view, normalised (whitespace runs to one space, trimmed, a-z upper-cased), or UNKNOWN for a user no snapshot holds.';
COMMENT ON COLUMN bi.pageviews_by_postcode_at_view_monthly.pageviews IS 'Pageviews in the month: each distinct (user_id, url, pageview_datetime) counted once however many loads carried it (identical rows inside one load are separate views), quarantined rows excluded. Always above 0.';

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_hourly AS
SELECT pageview_hour AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_hourly
WHERE pageviews > 0;
COMMENT ON VIEW bi.pageviews_by_current_postcode_hourly IS 'Pageviews per hour per current postcode of the user: the one in the latest accepted users snapshot holding the user, else UNKNOWN. Every new snapshot moves the past views of users who moved. One row per hour and postcode with views.';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_hourly.period_start IS 'Start of the hour in UTC (a TIMESTAMP without time zone, read as UTC); the hour covers [period_start, period_start + 1 hour).';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_hourly.postcode IS 'The current postcode of the user, normalised (whitespace runs to one space, trimmed, a-z upper-cased), or UNKNOWN for a user no snapshot holds.';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_hourly.pageviews IS 'Pageviews in the hour: each distinct (user_id, url, pageview_datetime) counted once however many loads carried it (identical rows inside one load are separate views), quarantined rows excluded. Always above 0.';

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_daily AS
SELECT pageview_day AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_daily
WHERE pageviews > 0;
COMMENT ON VIEW bi.pageviews_by_current_postcode_daily IS 'Pageviews per day per current postcode of the user: the one in the latest accepted users snapshot holding the user, else UNKNOWN. Every new snapshot moves the past views of users who moved. One row per day and postcode with views.';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_daily.period_start IS 'Start of the day in UTC (a TIMESTAMP without time zone, read as UTC); the day covers [period_start, period_start + 1 day).';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_daily.postcode IS 'The current postcode of the user, normalised (whitespace runs to one space, trimmed, a-z upper-cased), or UNKNOWN for a user no snapshot holds.';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_daily.pageviews IS 'Pageviews in the day: each distinct (user_id, url, pageview_datetime) counted once however many loads carried it (identical rows inside one load are separate views), quarantined rows excluded. Always above 0.';

CREATE OR REPLACE VIEW bi.pageviews_by_current_postcode_monthly AS
SELECT pageview_month AS period_start, postcode, pageviews
FROM agg.pageviews_by_current_postcode_monthly
WHERE pageviews > 0;
COMMENT ON VIEW bi.pageviews_by_current_postcode_monthly IS 'Pageviews per month per current postcode of the user: the one in the latest accepted users snapshot holding the user, else UNKNOWN. Every new snapshot moves the past views of users who moved. One row per month and postcode with views.';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_monthly.period_start IS 'Start of the month in UTC (a TIMESTAMP without time zone, read as UTC); the month covers [period_start, period_start + 1 month).';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_monthly.postcode IS 'The current postcode of the user, normalised (whitespace runs to one space, trimmed, a-z upper-cased), or UNKNOWN for a user no snapshot holds.';
COMMENT ON COLUMN bi.pageviews_by_current_postcode_monthly.pageviews IS 'Pageviews in the month: each distinct (user_id, url, pageview_datetime) counted once however many loads carried it (identical rows inside one load are separate views), quarantined rows excluded. Always above 0.';
