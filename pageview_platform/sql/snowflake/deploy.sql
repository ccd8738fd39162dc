-- Snowflake only, in Snowflake's dialect: what pays there and has no DuckDB counterpart.
-- Each statement is idempotent, so deploy-schema can run any number of times.

-- Scratch relations of the merges and re-attributions (see warehouse/dialect.py): emptied and
-- refilled inside each transaction, so no Fail-safe or Time Travel is worth paying for.
CREATE TRANSIENT SCHEMA IF NOT EXISTS scratch DATA_RETENTION_TIME_IN_DAYS = 0;

-- Cluster the big tables by day: every write and every BI query selects a few days, and the
-- partition replace deletes by load hour.
ALTER TABLE raw.pageviews_extract CLUSTER BY (TO_DATE(load_hour));
ALTER TABLE core.pageview_fact CLUSTER BY (TO_DATE(pageview_hour));
ALTER TABLE agg.pageviews_by_postcode_at_view_hourly CLUSTER BY (TO_DATE(pageview_hour));
ALTER TABLE agg.pageviews_by_current_postcode_hourly CLUSTER BY (TO_DATE(pageview_hour));
