-- The floor's own file: ../schema.sql's tables and bi views (day and month summed from the
-- hours at query time), plus what tells a load which of its rows the fact may already hold.
-- Per hour of the fact, the span of its views' times: a load's row of an hour the fact lacks,
-- or outside its hour's span, is a new identity and is never looked up.
CREATE TABLE IF NOT EXISTS fact_hours (
    pageview_hour TIMESTAMP NOT NULL,
    first_view TIMESTAMP NOT NULL,
    last_view TIMESTAMP NOT NULL
);
