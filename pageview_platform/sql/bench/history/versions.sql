-- bench/history.py: every user's postcode versions over days 0..$days, drawn once, in temp
-- tables of the synthesizing connection. Day $days is the snapshot the bench then ingests; the
-- versions before it are the history the warehouse holds. Hash-based draws: the same seed,
-- users and days give the same warehouse.

-- The postcodes users are spread over: UK-looking, distinct for indexes below 4,056,000
-- (30 areas x 20 districts x 10 digits x 26 x 26 letters).
CREATE OR REPLACE TEMP TABLE bench_postcodes AS
SELECT
    p AS postcode_index,
    ['AB', 'B', 'BN', 'BS', 'CB', 'CF', 'CH', 'CV', 'DE', 'E', 'EC', 'EH', 'G', 'GL', 'L',
        'LE', 'LS', 'M', 'N', 'NE', 'NG', 'NW', 'OX', 'PL', 'S', 'SE', 'SO', 'SW', 'W', 'WC'
    ][1 + p % 30]
    || CAST(1 + p // 30 % 20 AS VARCHAR)
    || ' '
    || CAST(p // 600 % 10 AS VARCHAR)
    || chr(CAST(65 + p // 6000 % 26 AS INTEGER))
    || chr(CAST(65 + p // 156000 % 26 AS INTEGER)) AS postcode
FROM range($postcodes) AS codes(p);

-- A version starts for every user on day 0, and on each later day a user moves with
-- probability $move_share (a per-user, per-night draw). Each move adds 1..$postcodes-1 to the
-- user's postcode index modulo $postcodes, so two consecutive versions never share a postcode
-- (the pipeline starts a version only on a change).
CREATE OR REPLACE TEMP TABLE bench_versions AS
WITH starts AS (
    SELECT u AS user_id, 0 AS valid_day
    FROM range(1, $users + 1) AS users(u)
    UNION ALL
    SELECT u, d
    FROM range(1, $users + 1) AS users(u), range(1, $days + 1) AS days(d)
    WHERE CAST(hash($seed, 1, u, d) >> 11 AS DOUBLE) / 9007199254740992.0 < $move_share
),
numbered AS (
    SELECT
        user_id,
        valid_day,
        lead(valid_day) OVER per_user AS next_day,
        CAST(row_number() OVER per_user AS INTEGER) AS version_number,
        (
            CAST(hash($seed, 2, user_id) >> 1 AS BIGINT) % $postcodes
            + sum(1 + CAST(hash($seed, 3, user_id, valid_day) >> 1 AS BIGINT) % ($postcodes - 1))
                OVER (per_user ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ) % $postcodes AS postcode_index
    FROM starts
    WINDOW per_user AS (PARTITION BY user_id ORDER BY valid_day)
)
SELECT
    n.user_id,
    CAST(n.valid_day AS INTEGER) AS valid_day,
    CAST(n.next_day AS INTEGER) AS next_day,
    n.version_number,
    p.postcode
FROM numbered AS n
JOIN bench_postcodes AS p ON p.postcode_index = n.postcode_index
ORDER BY n.valid_day, n.user_id;
