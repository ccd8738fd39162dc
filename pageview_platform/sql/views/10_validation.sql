-- The validation rules, written once: quarantine keeps the rows with a reject_reason,
-- everything downstream reads the rows without one. What whitespace, upper-casing, blank and
-- unprintable mean is defined once, in 05_normalisation.sql, for every path and both warehouses.
-- A postcode is a BI grouping key: longer than 16 characters once normalised (no postal code
-- is), or holding a control or format character or U+FFFD (text a decoder upstream already
-- broke, or invisible characters a form pasted), it would put a garbage row in every BI view.
-- A url is only part of a view's identity and never shown, so odd characters in it are kept;
-- one over 4096 characters is not a page address.
CREATE OR REPLACE VIEW core.users_extract_checked AS
WITH normalised AS (
    SELECT
        snapshot_date,
        id,
        postcode,
        core.normalise_postcode(postcode) AS postcode_normalised,
        -- A value the cheap test passes holds nothing unprintable: the unprintable test, a
        -- second of a 20M-row snapshot, is left to the rest (DuckDB evaluates the test once).
        core.is_tidy_ascii(postcode) AS tidy
    FROM raw.users_extract
),
classified AS (
    SELECT
        *,
        CASE
            WHEN id IS NULL THEN 'missing_id'
            WHEN postcode IS NULL THEN 'missing_postcode'
            -- Empty once normalised is exactly core.is_blank(postcode): nothing but whitespace.
            WHEN postcode_normalised = '' THEN 'blank_postcode'
            WHEN length(postcode_normalised) > 16 THEN 'postcode_too_long'
            WHEN NOT tidy AND core.has_unprintable(postcode_normalised)
                THEN 'unprintable_postcode'
        END AS invalid_reason
    FROM normalised
),
-- Users listed twice in one snapshot with different valid postcodes: a GROUP BY, not a window,
-- because a 20M-row snapshot sorts far slower than it hashes.
conflicting AS (
    SELECT snapshot_date, id
    FROM classified
    WHERE invalid_reason IS NULL
    GROUP BY snapshot_date, id
    HAVING min(postcode_normalised) <> max(postcode_normalised)
)
SELECT
    c.snapshot_date,
    c.id,
    c.postcode,
    c.postcode_normalised,
    coalesce(
        c.invalid_reason,
        CASE WHEN x.id IS NOT NULL THEN 'conflicting_postcodes' END
    ) AS reject_reason
FROM classified AS c
LEFT JOIN conflicting AS x ON x.snapshot_date = c.snapshot_date AND x.id = c.id;

CREATE OR REPLACE VIEW core.pageviews_extract_checked AS
SELECT
    r.load_hour,
    r.user_id,
    r.url,
    r.pageview_datetime,
    CASE
        WHEN r.user_id IS NULL THEN 'missing_user_id'
        WHEN r.url IS NULL THEN 'missing_url'
        WHEN core.is_blank(r.url) THEN 'blank_url'
        WHEN length(r.url) > 4096 THEN 'url_too_long'
        WHEN r.pageview_datetime IS NULL THEN 'missing_pageview_datetime'
        WHEN r.pageview_datetime < s.start_date THEN 'before_start_date'
        WHEN r.pageview_datetime >= r.load_hour + INTERVAL 2 HOUR THEN 'after_load_window'
    END AS reject_reason
FROM raw.pageviews_extract AS r
CROSS JOIN core.platform_settings AS s;
