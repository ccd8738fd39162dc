-- One schema per stage of the data's path: landing -> raw -> core -> agg -> bi.
CREATE SCHEMA IF NOT EXISTS landing;
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS agg;
CREATE SCHEMA IF NOT EXISTS bi;
-- The platform's own bookkeeping: alerts raised, loads captured.
CREATE SCHEMA IF NOT EXISTS ops;
