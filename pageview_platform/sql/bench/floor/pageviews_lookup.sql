-- The load's identities the fact may already hold: only rows inside the span of the fact's
-- views of their hour can be there (the previous hour's last minutes, the first minutes of
-- this hour a previous load caught, late rows). The rest of a fresh hour is never looked up.
CREATE OR REPLACE TEMP TABLE candidate_views AS
SELECT v.*
FROM load_views AS v
JOIN fact_hours AS s
    ON s.pageview_hour = v.pageview_hour
    AND v.pageview_datetime BETWEEN s.first_view AND s.last_view;

-- Looked up on the view's time first: one narrow column, in time order in the fact, so only
-- the row groups of the candidates' hours are read...
CREATE OR REPLACE TEMP TABLE same_time_views AS
SELECT c.*, f.rowid AS fact_row
FROM candidate_views AS c
JOIN pageview_fact AS f ON f.pageview_datetime = c.pageview_datetime;

-- ...then the rest of the identity, and what the fact holds of it, at the rows found.
CREATE OR REPLACE TEMP TABLE known_views AS
SELECT
    s.pageview_hour,
    s.user_id,
    s.url,
    s.pageview_datetime,
    s.view_count,
    s.fact_row,
    f.view_count AS previous_count,
    f.postcode_at_view
FROM same_time_views AS s
JOIN pageview_fact AS f ON f.rowid = s.fact_row AND f.user_id = s.user_id AND f.url = s.url;
