"""The bad input catalogue: one test per kind of malformed extract, each with its outcome.

A row-level kind ends in quarantine rows with a reason, or in ordinary counting, and the BI views
equal the oracle's answer. A table-level kind (schema drift) ends in a one-line error naming
the column and no change. docs/reliability.md lists every kind with the test that covers it;
NULLs, blank strings, conflicting duplicates and empty extracts are covered in test_rules.py.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pageview_platform import checks
from pageview_platform.alerts import CHECK_FAILURE, AlertSink, alert_on_check_failure
from pageview_platform.runs import ensure_dagster_home
from pageview_platform.settings import get_settings
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform, platform_at
from pageview_platform_tests.test_rules import table_contents

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
MICROSECOND = timedelta(microseconds=1)


def run(p: Platform, events: list[oracle.Event]) -> None:
    """Lands and ingests each event the way the extract and the operator do."""
    for kind, key, rows in events:
        if kind == "users":
            p.land_users(rows)
            p.ingest_users(key.strftime("%Y-%m-%d"))
        else:
            p.land_pageviews(rows)
            p.ingest_pageviews(key.strftime("%Y-%m-%dT%H"))


def assert_answers_match_oracle(p: Platform, events: list[oracle.Event]) -> None:
    """Every row of the six BI views and both quarantines as the oracle computes them."""
    assert p.views() == oracle.expected_views(events)
    users, pageviews = oracle.expected_quarantine(events)
    expected_users = Counter(
        (datetime.combine(day, datetime.min.time()), *row)
        for day, rows in users.items()
        for row in rows
    )
    expected_pageviews = Counter((hour, *row) for hour, rows in pageviews.items() for row in rows)
    assert Counter(p.query("SELECT snapshot_date, id, postcode FROM core.users_quarantine")) == (
        expected_users
    )
    assert Counter(
        p.query("SELECT load_hour, user_id, url, pageview_datetime FROM core.pageviews_quarantine")
    ) == (expected_pageviews)


def D(day: int, month: int = 1, year: int = 2024) -> datetime:
    return datetime(year, month, day)


# --------------------------------------------------------------------------- row-level kinds

# Every row-level kind lands in one scenario (two snapshots, one load), each kind under its own
# users, so the catalogue costs three ingests; each test reads its own kind's rows.
NEW_YEAR = D(1, 1, 2025)
LOAD = NEW_YEAR + timedelta(hours=1)
OVER_LONG_USERS = [
    (100, "A" * 16),
    (101, "A" * 17),
    (102, "  " + "b" * 16 + "  "),
    (103, "x" * 100_000),
]
OVER_LONG_VIEWS = [
    (100, "/" + "a" * 4095, LOAD),
    (101, "/" + "a" * 4096, LOAD),
    (102, "u" * 1_000_000, LOAD),
]
BROKEN_TEXT_USERS = [
    (200, "AB1\ufffd2CD"),  # a decoder upstream replaced bytes it could not read
    (201, "AB1\x002CD"),
    (202, "AB1\x1b[2CD"),  # an escape sequence
    (203, "AB1\x7f"),
    (206, "AB1\x85"),  # a C1 control character (NEL)
    (204, "Ã©1 1aa"),  # mojibake is valid text: nothing tells it from a real name
    (205, "é1 1aa"),  # only the ASCII letters are upper-cased: é stays é
]
BROKEN_TEXT_VIEWS = [
    (user_id, url, LOAD + timedelta(minutes=n))
    for n, (user_id, url) in enumerate(
        [(200, "/\x00"), (201, "/\ufffd"), (204, "/Ã©"), (205, "/é"), (205, "/\u202e")]
    )
]
EXTREME_IDS = [BIGINT_MIN, -1, 0, BIGINT_MAX]
EXTREME_ID_USERS = [(user_id, f"P{n}") for n, user_id in enumerate(EXTREME_IDS)]
EXTREME_ID_VIEWS = [(user_id, "/a", LOAD) for user_id in [*EXTREME_IDS, -2]]
FAR_VIEWS = [
    (400, "/a", datetime(1, 1, 1)),
    (400, "/b", datetime(1969, 12, 31, 23, 59, 59, 999999)),
    (400, "/c", datetime(1970, 1, 1)),
    (400, "/d", D(1) - MICROSECOND),
    (400, "/e", D(1)),  # the start date itself: kept
    (400, "/f", LOAD + timedelta(hours=2) - MICROSECOND),  # the window's last instant: kept
    (400, "/g", LOAD + timedelta(hours=2)),
    (400, "/h", datetime(2100, 1, 1)),
    (400, "/i", datetime(9999, 12, 31, 23, 59, 59, 999999)),
]
BOUNDARY_VIEWS = [
    (500, "/a", moment)
    for moment in (
        NEW_YEAR - MICROSECOND,
        NEW_YEAR,
        NEW_YEAR + timedelta(hours=1) - MICROSECOND,
        NEW_YEAR + timedelta(hours=1),
        D(1, 3) - MICROSECOND,  # 2024-02-29 23:59:59.999999
        D(1, 3),
    )
]
# Timestamps are UTC without a zone: the hours Europe and the US skip or repeat in local time
# are ordinary UTC hours, none missing and none doubled.
DST_CHANGES = [
    datetime(2024, 3, 10, 7),  # US spring forward (02:00 EST)
    datetime(2024, 3, 31, 1),  # EU spring forward
    datetime(2024, 10, 27, 1),  # EU fall back
    datetime(2024, 11, 3, 6),  # US fall back (02:00 EDT)
]
DST_VIEWS = [
    (600, "/a", change + timedelta(minutes=30 * step))
    for change in DST_CHANGES
    for step in range(-4, 4)
]
CATALOGUE: list[oracle.Event] = [
    # User 500's postcode changes at midnight: the view a microsecond before keeps the old one.
    ("users", D(31, 12), [*OVER_LONG_USERS, *BROKEN_TEXT_USERS, *EXTREME_ID_USERS, (500, "OLD")]),
    ("users", NEW_YEAR, [(500, "NEW")]),
    (
        "pageviews",
        LOAD,
        [
            *OVER_LONG_VIEWS,
            *BROKEN_TEXT_VIEWS,
            *EXTREME_ID_VIEWS,
            *FAR_VIEWS,
            *BOUNDARY_VIEWS,
            *DST_VIEWS,
        ],
    ),
]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """The warehouse after the catalogue scenario, read by every row-level test."""
    directory = tmp_path_factory.mktemp("catalogue")
    with platform_at(directory) as platform:
        run(platform, CATALOGUE)
    return platform


def user_reasons(p: Platform, first: int, last: int) -> Counter[tuple[int, str]]:
    return Counter(
        p.query(
            "SELECT id, reason FROM core.users_quarantine WHERE id BETWEEN $1 AND $2",
            [first, last],
        )
    )


def view_reasons(p: Platform, first: int, last: int) -> Counter[tuple[int, str, str]]:
    return Counter(
        p.query(
            "SELECT user_id, url, reason FROM core.pageviews_quarantine"
            " WHERE user_id BETWEEN $1 AND $2",
            [first, last],
        )
    )


def test_over_long_postcode_and_url_are_quarantined_and_the_limit_itself_is_kept(
    catalogue: Platform,
) -> None:
    assert user_reasons(catalogue, 100, 199) == Counter(
        {(101, "postcode_too_long"): 1, (103, "postcode_too_long"): 1}
    )
    assert Counter((u, r) for u, _, r in view_reasons(catalogue, 100, 199).elements()) == Counter(
        {(101, "url_too_long"): 1, (102, "url_too_long"): 1}
    )
    assert_answers_match_oracle(catalogue, CATALOGUE)


def test_broken_text_in_a_postcode_is_quarantined_but_odd_urls_still_count(
    catalogue: Platform,
) -> None:
    assert user_reasons(catalogue, 200, 299) == Counter(
        {(user_id, "unprintable_postcode"): 1 for user_id in (200, 201, 202, 203, 206)}
    )
    assert view_reasons(catalogue, 200, 299) == Counter()
    assert catalogue.query(
        "SELECT user_id, postcode FROM core.user_postcode_history"
        " WHERE user_id BETWEEN 200 AND 299 ORDER BY 1"
    ) == [(204, "Ã©1 1AA"), (205, "é1 1AA")]
    assert_answers_match_oracle(catalogue, CATALOGUE)


def test_negative_zero_and_extreme_ids_are_ordinary_ids(catalogue: Platform) -> None:
    assert user_reasons(catalogue, BIGINT_MIN, 0) == Counter()
    assert view_reasons(catalogue, BIGINT_MIN, 0) == Counter()
    assert catalogue.query(
        "SELECT user_id, postcode_at_view FROM core.pageview_fact WHERE user_id <= 0"
        " OR user_id = $1 ORDER BY 1",
        [BIGINT_MAX],
    ) == [(BIGINT_MIN, "P0"), (-2, oracle.UNKNOWN), (-1, "P1"), (0, "P2"), (BIGINT_MAX, "P3")]
    assert_answers_match_oracle(catalogue, CATALOGUE)


def test_timestamps_far_in_the_past_or_future_are_quarantined(catalogue: Platform) -> None:
    assert view_reasons(catalogue, 400, 400) == Counter(
        {(400, url, "before_start_date"): 1 for url in ("/a", "/b", "/c", "/d")}
        | {(400, url, "after_load_window"): 1 for url in ("/g", "/h", "/i")}
    )
    assert_answers_match_oracle(catalogue, CATALOGUE)


def test_views_at_hour_midnight_year_and_leap_day_boundaries_count_in_their_own_period(
    catalogue: Platform,
) -> None:
    assert view_reasons(catalogue, 500, 500) == Counter()
    at_view = catalogue.query(
        "SELECT pageview_hour, postcode_at_view, view_count FROM core.pageview_fact"
        " WHERE user_id = 500 ORDER BY pageview_datetime"
    )
    assert at_view == [
        (D(29, 2) + timedelta(hours=23), "OLD", 1),
        (D(1, 3), "OLD", 1),
        (D(31, 12) + timedelta(hours=23), "OLD", 1),
        (NEW_YEAR, "NEW", 1),
        (NEW_YEAR, "NEW", 1),
        (LOAD, "NEW", 1),
    ]
    assert_answers_match_oracle(catalogue, CATALOGUE)


def test_views_across_daylight_saving_changes_count_once_in_their_utc_hour(
    catalogue: Platform,
) -> None:
    hours = catalogue.query(
        "SELECT pageview_hour, sum(view_count) FROM core.pageview_fact WHERE user_id = 600"
        " GROUP BY ALL ORDER BY 1"
    )
    assert hours == sorted(
        (change + timedelta(hours=offset), 2) for change in DST_CHANGES for offset in (-2, -1, 0, 1)
    )
    assert_answers_match_oracle(catalogue, CATALOGUE)


# --------------------------------------------------------------------------- a load's hour


def test_a_load_ingested_under_the_wrong_hour_fails_a_check_and_is_alerted(
    platform: Platform,
) -> None:
    early, late = D(2) + timedelta(hours=5), D(2) + timedelta(hours=17)
    events = [
        # The 05:00 load ingested as 10:00: its rows are late rows, counted in their own hour.
        ("pageviews", D(2) + timedelta(hours=10), [(1, "/a", early), (2, "/b", early)]),
        # The 17:00 load ingested as 12:00: its rows are from the load's future, quarantined.
        ("pageviews", D(2) + timedelta(hours=12), [(1, "/c", late), (2, "/d", late)]),
        ("pageviews", D(2) + timedelta(hours=13), [(1, "/e", D(2) + timedelta(hours=13))]),
    ]
    ensure_dagster_home(get_settings().dagster_home)
    with dg.DagsterInstance.get() as instance:
        sink = AlertSink(database=str(platform.warehouse), start_date="2024-01-01")

        def tick(cursor: str | None) -> str:
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"alerts": sink}
            )
            return alert_on_check_failure(context).cursor

        started = tick(None)
        run(platform, events)
        tick(started)
    assert Counter(platform.query("SELECT reason FROM core.pageviews_quarantine")) == {
        ("after_load_window",): 2
    }
    assert_answers_match_oracle(platform, events)
    subject = f"raw/pageviews_extract:{checks.LOAD_IN_ITS_WINDOW}"
    alerts = platform.query("SELECT kind, subject, message FROM ops.alerts ORDER BY message")
    assert [(kind, subj) for kind, subj, _ in alerts] == [(CHECK_FAILURE, subject)] * 2
    for (_, _, message), partition in zip(
        alerts, ("2024-01-02-10:00", "2024-01-02-12:00"), strict=True
    ):
        assert f"[{partition}]" in message and "loads_outside_their_window=1" in message


# --------------------------------------------------------------------------- schema drift


GOOD_HOUR = D(2) + timedelta(hours=10)
GOOD_EVENTS: list[oracle.Event] = [
    ("users", D(2), [(1, "A1 1AA"), (2, "B2 2BB")]),
    ("pageviews", GOOD_HOUR, [(1, "/a", GOOD_HOUR), (2, "/b", GOOD_HOUR)]),
]


@pytest.fixture(scope="module")
def good_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with one snapshot and one load ingested, copied by each drift test."""
    directory = tmp_path_factory.mktemp("drift")
    with platform_at(directory) as platform:
        run(platform, GOOD_EVENTS)
    return directory


@pytest.fixture
def drifted(good_warehouse: Path, tmp_path: Path) -> Iterator[Platform]:
    for file in good_warehouse.glob("warehouse.duckdb*"):
        shutil.copy(file, tmp_path / file.name)
    with platform_at(tmp_path) as p:
        yield p


def reland(p: Platform, ddl: str, insert: str) -> None:
    """Replaces a landing table by one of another shape, as a changed extract would."""
    with duckdb.connect(str(p.warehouse)) as con:
        table = ddl.split()[2]
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(ddl)
        con.execute(insert)


def _without_landing(contents: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {name: rows for name, rows in contents.items() if not name.startswith("landing.")}


# (ingest argument, landing DDL, rows, what the one-line error names)
DRIFT = {
    "users column missing": (
        "users",
        "CREATE TABLE landing.users_extract (id BIGINT)",
        "INSERT INTO landing.users_extract VALUES (1)",
        'column "postcode" is missing',
    ),
    "pageviews url renamed": (
        "pageviews",
        "CREATE TABLE landing.pageviews_extract"
        " (user_id BIGINT, link VARCHAR, pageview_datetime TIMESTAMP)",
        "INSERT INTO landing.pageviews_extract VALUES (1, '/z', '2024-01-02 11:00')",
        'column "url" is missing; unexpected "link"',
    ),
    "pageviews id beyond BIGINT": (
        "pageviews",
        "CREATE TABLE landing.pageviews_extract"
        " (user_id HUGEINT, url VARCHAR, pageview_datetime TIMESTAMP)",
        "INSERT INTO landing.pageviews_extract VALUES (2::HUGEINT ** 70, '/z', '2024-01-02 11:00')",
        'column "user_id" is HUGEINT, expected BIGINT',
    ),
    "pageviews time re-typed with a zone": (
        "pageviews",
        "CREATE TABLE landing.pageviews_extract"
        " (user_id BIGINT, url VARCHAR, pageview_datetime TIMESTAMPTZ)",
        "INSERT INTO landing.pageviews_extract VALUES (1, '/z', '2024-01-02 11:00+00')",
        'column "pageview_datetime" is TIMESTAMP WITH TIME ZONE, expected TIMESTAMP',
    ),
}


@pytest.mark.parametrize(("kind", "ddl", "insert", "named"), DRIFT.values(), ids=DRIFT.keys())
def test_a_landing_table_that_drifted_from_the_contract_fails_naming_the_column_and_changes_nothing(
    drifted: Platform,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    ddl: str,
    insert: str,
    named: str,
) -> None:
    before = _without_landing(table_contents(drifted))
    reland(drifted, ddl, insert)
    if kind == "users":
        code = drifted.ingest_users("2024-01-03", expect_ok=False)
    else:
        code = drifted.ingest_pageviews("2024-01-02T11", expect_ok=False)
    assert code == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and named in error and "nothing captured" in error
    assert _without_landing(table_contents(drifted)) == before
    assert drifted.views() == oracle.expected_views(GOOD_EVENTS)


def test_an_extra_landing_column_is_ignored_and_the_promised_ones_captured(
    drifted: Platform,
) -> None:
    hour = D(2) + timedelta(hours=11)
    reland(
        drifted,
        "CREATE TABLE landing.pageviews_extract"
        " (session VARCHAR, user_id BIGINT, url VARCHAR, pageview_datetime TIMESTAMP)",
        "INSERT INTO landing.pageviews_extract VALUES ('s1', 1, '/z', '2024-01-02 11:05')",
    )
    drifted.ingest_pageviews("2024-01-02T11")
    assert drifted.query("SELECT * FROM raw.pageviews_extract WHERE load_hour = $1", [hour]) == [
        (hour, 1, "/z", hour + timedelta(minutes=5))
    ]
    events = [*GOOD_EVENTS, ("pageviews", hour, [(1, "/z", hour + timedelta(minutes=5))])]
    assert_answers_match_oracle(drifted, events)
