"""Rule tests: each test lands a few rows, runs the CLI, and checks hand-computed results.

Expectations come from the written rules only (not from the pipeline's SQL).
Start date is 2024-01-01 (the fixture's PAGEVIEW_START_DATE).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from pageview_platform_tests.harness import VIEW_NAMES, Platform, platform_at

UNKNOWN = "UNKNOWN"

CURRENT = "bi.pageviews_by_current_postcode"
AT_VIEW = "bi.pageviews_by_postcode_at_view"


def T(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 1, us: int = 0):
    """A 2024 timestamp (January unless month is given)."""
    return datetime(2024, month, day, hour, minute, second, us)


def D(day: int, month: int = 1) -> datetime:
    """Midnight of a 2024 date, as stored in TIMESTAMP columns."""
    return datetime(2024, month, day)


def hour_key(day: int, hour: int, month: int = 1) -> str:
    return f"2024-{month:02d}-{day:02d}T{hour:02d}"


def date_key(day: int, month: int = 1) -> str:
    return f"2024-{month:02d}-{day:02d}"


def _rollup(hourly: set[tuple[datetime, str, int]], grain: str) -> set[tuple[datetime, str, int]]:
    """Sums a test's own hand-written hourly expectation into days or months."""
    totals: dict[tuple[datetime, str], int] = defaultdict(int)
    for start, postcode, count in hourly:
        if grain == "daily":
            key = start.replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            key = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        totals[(key, postcode)] += count
    return {(k, p, c) for (k, p), c in totals.items() if c}


def assert_views(p: Platform, current_hourly: set, at_view_hourly: set) -> None:
    """Checks all six BI views: hourly as given, daily and monthly as their sums."""
    for prefix, hourly in ((CURRENT, current_hourly), (AT_VIEW, at_view_hourly)):
        assert p.view(f"{prefix}_hourly") == hourly, f"{prefix}_hourly"
        assert p.view(f"{prefix}_daily") == _rollup(hourly, "daily"), f"{prefix}_daily"
        assert p.view(f"{prefix}_monthly") == _rollup(hourly, "monthly"), f"{prefix}_monthly"


def table_contents(p: Platform) -> dict[str, list[tuple]]:
    """Every user table and view in the warehouse, rows sorted, for before/after comparison."""
    objects = p.query(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
        " AND database_name = current_database()"
        " UNION ALL "
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        " AND database_name = current_database()"
    )
    contents = {}
    for schema, name in sorted(objects):
        rows = p.query(f'SELECT * FROM "{schema}"."{name}"')
        contents[f"{schema}.{name}"] = sorted(rows, key=repr)
    return contents


def srt(rows) -> list[tuple]:
    """Sorts expected rows the same way the table readers below sort actual rows."""
    return sorted(rows, key=repr)


def history(p: Platform) -> list[tuple]:
    return sorted(
        p.query(
            "SELECT user_id, postcode, valid_from, valid_to, is_current"
            " FROM core.user_postcode_history"
        ),
        key=repr,
    )


def users_quarantine(p: Platform) -> list[tuple]:
    return sorted(p.query("SELECT snapshot_date, id, reason FROM core.users_quarantine"), key=repr)


def pageviews_quarantine(p: Platform) -> list[tuple]:
    return sorted(
        p.query(
            "SELECT load_hour, user_id, pageview_datetime, reason FROM core.pageviews_quarantine"
        ),
        key=repr,
    )


def fact(p: Platform) -> list[tuple]:
    return sorted(
        p.query(
            "SELECT pageview_hour, user_id, url, pageview_datetime, view_count, postcode_at_view"
            " FROM core.pageview_fact"
        ),
        key=repr,
    )


def exit_code(call, *args, **kwargs) -> int:
    """Runs a harness ingest, treating a SystemExit (e.g. from argparse) as its exit code."""
    try:
        return call(*args, **kwargs)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1


# --------------------------------------------------------------------------- postcodes


def test_postcode_normalised_trimmed_uppercased_whitespace_collapsed(platform: Platform) -> None:
    p = platform
    p.land_users(
        [
            (1, " sw1a  1aa "),
            (2, "\te1\n\r 6an\f\v"),
            (3, "n1\v\v9gu"),
            (4, "\u00a0w1a\u00a00ax\u3000"),  # a no-break and an ideographic space
            # Issue 14: one postcode, not a conflict; blank; 17 characters however padded.
            (5, "\u3000E1"),
            (5, "\u3000e1\t"),
            (6, "\u00a0 "),
            (7, "\u3000" + "b" * 17 + "\u00a0"),
        ]
    )
    p.ingest_users(date_key(1))
    p.land_pageviews([(u, "/home", T(1, 10, 15)) for u in (1, 2, 3, 4, 5, 6, 7)])
    p.ingest_pageviews(hour_key(1, 10))

    assert history(p) == sorted(
        [
            (1, "SW1A 1AA", D(1), None, True),
            (2, "E1 6AN", D(1), None, True),
            (3, "N1 9GU", D(1), None, True),
            (4, "W1A 0AX", D(1), None, True),
            (5, "E1", D(1), None, True),
        ],
        key=repr,
    )
    hourly = {
        (T(1, 10), "SW1A 1AA", 1),
        (T(1, 10), "E1 6AN", 1),
        (T(1, 10), "N1 9GU", 1),
        (T(1, 10), "W1A 0AX", 1),
        (T(1, 10), "E1", 1),
        (T(1, 10), UNKNOWN, 2),
    }
    assert_views(p, hourly, hourly)
    assert users_quarantine(p) == [(D(1), 6, "blank_postcode"), (D(1), 7, "postcode_too_long")]


# --------------------------------------------------------------------------- invalid users


def test_invalid_user_rows_quarantined_with_reason(platform: Platform) -> None:
    p = platform
    p.land_users(
        [
            (None, "AB1 2CD"),
            (None, None),  # missing_id comes first
            (None, "   "),
            (2, None),
            (3, ""),
            (4, " \t\n\r\f\v "),
            (5, "ok1 1ok"),
        ]
    )
    p.ingest_users(date_key(1))
    assert users_quarantine(p) == sorted(
        [
            (D(1), None, "missing_id"),
            (D(1), None, "missing_id"),
            (D(1), None, "missing_id"),
            (D(1), 2, "missing_postcode"),
            (D(1), 3, "blank_postcode"),
            (D(1), 4, "blank_postcode"),
        ],
        key=repr,
    )
    assert history(p) == [(5, "OK1 1OK", D(1), None, True)]

    # Ignored: users 2-4 are in no snapshot validly, so their views are UNKNOWN.
    p.land_pageviews([(u, "/x", T(1, 9, 30)) for u in (2, 3, 4, 5)])
    p.ingest_pageviews(hour_key(1, 9))
    hourly = {(T(1, 9), UNKNOWN, 3), (T(1, 9), "OK1 1OK", 1)}
    assert_views(p, hourly, hourly)


def test_conflicting_postcodes_quarantine_all_user_rows_and_keep_previous(
    platform: Platform,
) -> None:
    p = platform
    p.land_users([(1, "A1 1AA"), (2, "Z9 9ZZ")])
    p.ingest_users(date_key(1))
    p.land_users(
        [
            (1, "a1  1aa"),
            (1, "B2 2BB"),
            (1, None),  # an invalid row keeps its own (earlier) reason
            (2, "Z9 9ZZ"),
            (3, "C3 3CC"),  # a user whose only snapshot conflicts
            (3, "D4 4DD"),
        ]
    )
    p.ingest_users(date_key(2))
    assert users_quarantine(p) == sorted(
        [
            (D(2), 1, "conflicting_postcodes"),
            (D(2), 1, "conflicting_postcodes"),
            (D(2), 1, "missing_postcode"),
            (D(2), 3, "conflicting_postcodes"),
            (D(2), 3, "conflicting_postcodes"),
        ],
        key=repr,
    )
    assert history(p) == sorted(
        [(1, "A1 1AA", D(1), None, True), (2, "Z9 9ZZ", D(1), None, True)], key=repr
    )
    p.land_pageviews([(1, "/a", T(2, 8, 0)), (3, "/a", T(2, 8, 5))])
    p.ingest_pageviews(hour_key(2, 8))
    hourly = {(T(2, 8), "A1 1AA", 1), (T(2, 8), UNKNOWN, 1)}
    assert_views(p, hourly, hourly)


def test_identical_valid_rows_count_as_one(platform: Platform) -> None:
    p = platform
    # All three normalise to the same postcode: not a conflict, one version.
    p.land_users([(1, "a1 1aa"), (1, " A1  1AA"), (1, "A1 1AA")])
    p.ingest_users(date_key(1))
    assert users_quarantine(p) == []
    assert history(p) == [(1, "A1 1AA", D(1), None, True)]
    p.land_pageviews([(1, "/a", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(1, 10))
    hourly = {(T(1, 10), "A1 1AA", 1)}  # not tripled by the duplicate user rows
    assert_views(p, hourly, hourly)


# --------------------------------------------------------------------------- history / at view


def test_snapshot_gives_postcode_for_whole_day(platform: Platform) -> None:
    p = platform
    p.land_users([(1, "A")])
    p.ingest_users(date_key(2))
    p.land_users([(1, "B")])
    p.ingest_users(date_key(3))
    p.land_pageviews(
        [
            (1, "/a", T(2, 0, 0)),
            (1, "/a", T(2, 23, 59, 59)),
            (1, "/a", T(3, 0, 0)),
        ]
    )
    p.ingest_pageviews(hour_key(3, 0))
    assert history(p) == srt([(1, "A", D(2), D(3), False), (1, "B", D(3), None, True)])
    assert p.view(f"{AT_VIEW}_hourly") == {
        (T(2, 0), "A", 1),
        (T(2, 23), "A", 1),
        (T(3, 0), "B", 1),
    }
    assert p.view(f"{AT_VIEW}_daily") == {(D(2), "A", 2), (D(3), "B", 1)}
    assert p.view(f"{AT_VIEW}_monthly") == {(D(1), "A", 2), (D(1), "B", 1)}
    assert p.view(f"{CURRENT}_hourly") == {
        (T(2, 0), "B", 1),
        (T(2, 23), "B", 1),
        (T(3, 0), "B", 1),
    }
    assert p.view(f"{CURRENT}_daily") == {(D(2), "B", 2), (D(3), "B", 1)}
    assert p.view(f"{CURRENT}_monthly") == {(D(1), "B", 3)}


def test_absent_user_keeps_last_postcode_single_version(platform: Platform) -> None:
    p = platform
    p.land_users([(1, "A"), (2, "X")])
    p.ingest_users(date_key(1))
    p.land_users([(2, "  ")])  # user 1 deleted, user 2 a bad row
    p.ingest_users(date_key(2))
    p.land_users([(1, "a"), (2, "X")])  # both back, same postcodes
    p.ingest_users(date_key(3))
    assert history(p) == srt([(1, "A", D(1), None, True), (2, "X", D(1), None, True)])
    p.land_pageviews([(1, "/p", T(2, 12, 0)), (2, "/p", T(2, 12, 1))])
    p.ingest_pageviews(hour_key(2, 12))
    hourly = {(T(2, 12), "A", 1), (T(2, 12), "X", 1)}
    assert_views(p, hourly, hourly)


def test_postcode_at_view_falls_back_to_earliest_snapshot_else_unknown(
    platform: Platform,
) -> None:
    p = platform
    p.land_users([(1, "C")])
    p.ingest_users(date_key(3))
    p.land_users([(1, "E")])
    p.ingest_users(date_key(5))
    # user 1 viewed before any snapshot holds them; user 2 is in no snapshot.
    p.land_pageviews([(1, "/a", T(1, 10, 0)), (1, "/a", T(4, 10, 0)), (2, "/a", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(5, 0))
    assert_views(
        p,
        current_hourly={(T(1, 10), "E", 1), (T(4, 10), "E", 1), (T(1, 10), UNKNOWN, 1)},
        at_view_hourly={(T(1, 10), "C", 1), (T(4, 10), "C", 1), (T(1, 10), UNKNOWN, 1)},
    )
    assert fact(p) == sorted(
        [
            (T(1, 10), 1, "/a", T(1, 10), 1, "C"),
            (T(4, 10), 1, "/a", T(4, 10), 1, "C"),
            (T(1, 10), 2, "/a", T(1, 10), 1, UNKNOWN),
        ],
        key=repr,
    )


def test_current_postcode_move_reattributes_all_past_pageviews_not_at_view(
    platform: Platform,
) -> None:
    p = platform
    p.land_users([(1, "A"), (2, "Q")])
    p.ingest_users(date_key(1))
    p.land_users([(1, "B"), (2, "Q")])
    p.ingest_users(date_key(2))
    p.land_pageviews([(1, "/x", T(1, 10, 0)), (1, "/y", T(2, 10, 0)), (2, "/x", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(2, 10))
    assert p.view(f"{CURRENT}_hourly") == {
        (T(1, 10), "B", 1),
        (T(2, 10), "B", 1),
        (T(1, 10), "Q", 1),
    }
    assert p.view(f"{AT_VIEW}_hourly") == {
        (T(1, 10), "A", 1),
        (T(2, 10), "B", 1),
        (T(1, 10), "Q", 1),
    }
    assert p.view(f"{CURRENT}_daily") == {(D(1), "B", 1), (D(2), "B", 1), (D(1), "Q", 1)}
    assert p.view(f"{AT_VIEW}_daily") == {(D(1), "A", 1), (D(2), "B", 1), (D(1), "Q", 1)}
    assert p.view(f"{CURRENT}_monthly") == {(D(1), "B", 2), (D(1), "Q", 1)}
    assert p.view(f"{AT_VIEW}_monthly") == {(D(1), "A", 1), (D(1), "B", 1), (D(1), "Q", 1)}


def test_invalid_pageview_rows_quarantined_with_reason(platform: Platform) -> None:
    p = platform
    p.land_pageviews(
        [
            (None, "/a", T(1, 10, 0)),
            (None, None, None),  # missing_user_id first
            (1, None, T(1, 10, 1)),
            (1, None, None),  # missing_url before missing_pageview_datetime
            (1, "", T(1, 10, 2)),
            (1, " \t\n", T(1, 10, 3)),
            (1, "", datetime(2023, 12, 31, 23)),  # blank_url before before_start_date
            (1, "/a", None),
            (1, "/a", datetime(2023, 12, 31, 23, 59, 59)),
            (1, "/ok", T(1, 0, 0)),  # exactly the start: valid
            (1, "/ok", T(1, 10, 30)),
        ]
    )
    p.ingest_pageviews(hour_key(1, 10))
    H = T(1, 10)
    assert pageviews_quarantine(p) == sorted(
        [
            (H, None, T(1, 10), "missing_user_id"),
            (H, None, None, "missing_user_id"),
            (H, 1, T(1, 10, 1), "missing_url"),
            (H, 1, None, "missing_url"),
            (H, 1, T(1, 10, 2), "blank_url"),
            (H, 1, T(1, 10, 3), "blank_url"),
            (H, 1, datetime(2023, 12, 31, 23), "blank_url"),
            (H, 1, None, "missing_pageview_datetime"),
            (H, 1, datetime(2023, 12, 31, 23, 59, 59), "before_start_date"),
        ],
        key=repr,
    )
    hourly = {(T(1, 0), UNKNOWN, 1), (T(1, 10), UNKNOWN, 1)}
    assert_views(p, hourly, hourly)
    assert len(fact(p)) == 2


def test_pageview_in_next_hour_ok_two_hours_after_load_start_quarantined(
    platform: Platform,
) -> None:
    p = platform
    p.land_pageviews(
        [
            (1, "/a", T(5, 11, 0)),  # first minutes of the next hour: fine
            (1, "/b", T(5, 11, 59, 59, us=999999)),  # just inside the window
            (1, "/c", T(5, 12, 0)),  # load hour + 2h exactly
            (1, "/d", T(6, 0, 0)),
            (1, "/e", T(5, 9, 0)),  # earlier hour (late row): fine
        ]
    )
    p.ingest_pageviews(hour_key(5, 10))
    assert pageviews_quarantine(p) == sorted(
        [
            (T(5, 10), 1, T(5, 12), "after_load_window"),
            (T(5, 10), 1, T(6, 0), "after_load_window"),
        ],
        key=repr,
    )
    hourly = {(T(5, 9), UNKNOWN, 1), (T(5, 11), UNKNOWN, 2)}
    assert_views(p, hourly, hourly)


# --------------------------------------------------------------------------- pageview identity


def test_identical_rows_in_one_load_are_separate_views(platform: Platform) -> None:
    p = platform
    p.land_users([(1, "A")])
    p.ingest_users(date_key(1))
    p.land_pageviews([(1, "/a", T(1, 10, 5)), (1, "/a", T(1, 10, 5)), (1, "/b", T(1, 10, 5))])
    p.ingest_pageviews(hour_key(1, 10))
    hourly = {(T(1, 10), "A", 3)}
    assert_views(p, hourly, hourly)
    assert fact(p) == srt(
        [
            (T(1, 10), 1, "/a", T(1, 10, 5), 2, "A"),
            (T(1, 10), 1, "/b", T(1, 10, 5), 1, "A"),
        ]
    )


def test_same_row_in_two_loads_counts_once(platform: Platform) -> None:
    p = platform
    p.land_pageviews([(1, "/a", T(1, 10, 55))])
    p.ingest_pageviews(hour_key(1, 10))
    p.land_pageviews([(1, "/a", T(1, 10, 55)), (1, "/b", T(1, 11, 5))])  # re-extracted
    p.ingest_pageviews(hour_key(1, 11))
    hourly = {(T(1, 10), UNKNOWN, 1), (T(1, 11), UNKNOWN, 1)}
    assert_views(p, hourly, hourly)
    assert [row[4] for row in fact(p)] == [1, 1]


def test_identity_counts_max_multiplicity_over_loads(platform: Platform) -> None:
    p = platform
    row = (1, "/a", T(1, 10, 30))
    p.land_pageviews([row] * 2)
    p.ingest_pageviews(hour_key(1, 10))
    p.land_pageviews([row] * 3)
    p.ingest_pageviews(hour_key(1, 11))
    assert_views(p, {(T(1, 10), UNKNOWN, 3)}, {(T(1, 10), UNKNOWN, 3)})
    assert fact(p) == [(T(1, 10), 1, "/a", T(1, 10, 30), 3, UNKNOWN)]
    # Re-ingesting hour 11 with one copy: max(2, 1) = 2.
    p.land_pageviews([row])
    p.ingest_pageviews(hour_key(1, 11))
    assert_views(p, {(T(1, 10), UNKNOWN, 2)}, {(T(1, 10), UNKNOWN, 2)})
    assert fact(p) == [(T(1, 10), 1, "/a", T(1, 10, 30), 2, UNKNOWN)]


def test_late_row_counts_in_its_own_hour(platform: Platform) -> None:
    p = platform
    p.land_users([(1, "A")])
    p.ingest_users(date_key(1))
    p.land_pageviews([(1, "/a", T(1, 8, 15)), (1, "/b", T(29, 23, 59, month=2))])
    p.ingest_pageviews(hour_key(1, 0, month=3))  # arriving weeks late
    hourly = {(T(1, 8), "A", 1), (T(29, 23, month=2), "A", 1)}
    assert p.view(f"{AT_VIEW}_hourly") == hourly
    assert p.view(f"{CURRENT}_hourly") == hourly
    daily = {(D(1), "A", 1), (D(29, month=2), "A", 1)}
    assert p.view(f"{AT_VIEW}_daily") == daily
    assert p.view(f"{CURRENT}_daily") == daily
    monthly = {(D(1), "A", 1), (D(1, month=2), "A", 1)}
    assert p.view(f"{AT_VIEW}_monthly") == monthly
    assert p.view(f"{CURRENT}_monthly") == monthly


# --------------------------------------------------------------------------- re-ingest


def test_reingest_hour_with_fewer_rows_lowers_counts(platform: Platform) -> None:
    p = platform
    p.land_pageviews(
        [
            (1, "/a", T(1, 10, 10)),
            (1, "/b", T(1, 10, 20)),
            (1, "/b", T(1, 10, 20)),
            (None, "/q", T(1, 10, 30)),
        ]
    )
    p.ingest_pageviews(hour_key(1, 10))
    assert_views(p, {(T(1, 10), UNKNOWN, 3)}, {(T(1, 10), UNKNOWN, 3)})
    assert len(pageviews_quarantine(p)) == 1
    p.land_pageviews([(1, "/a", T(1, 10, 10))])
    p.ingest_pageviews(hour_key(1, 10))
    assert_views(p, {(T(1, 10), UNKNOWN, 1)}, {(T(1, 10), UNKNOWN, 1)})
    assert pageviews_quarantine(p) == []  # the load's quarantined rows are replaced too
    assert fact(p) == [(T(1, 10), 1, "/a", T(1, 10, 10), 1, UNKNOWN)]
    assert p.query("SELECT load_hour, user_id, url FROM raw.pageviews_extract") == [
        (T(1, 10), 1, "/a")
    ]


def test_reingest_row_moved_to_another_hour_leaves_old_hour(platform: Platform) -> None:
    p = platform
    p.land_pageviews([(1, "/a", T(1, 10, 10)), (2, "/q", T(1, 10, 40))])
    p.ingest_pageviews(hour_key(1, 10))
    p.land_pageviews([(1, "/a", T(1, 11, 10)), (2, "/q", T(1, 10, 40))])  # corrected time
    p.ingest_pageviews(hour_key(1, 10))
    hourly = {(T(1, 10), UNKNOWN, 1), (T(1, 11), UNKNOWN, 1)}
    assert_views(p, hourly, hourly)
    assert sorted(row[0] for row in fact(p)) == [T(1, 10), T(1, 11)]


def test_reingest_hour_keeps_views_other_loads_contributed(platform: Platform) -> None:
    p = platform
    p.land_pageviews([(1, "/a", T(1, 10, 50)), (1, "/only10", T(1, 10, 51))])
    p.ingest_pageviews(hour_key(1, 10))
    p.land_pageviews([(1, "/a", T(1, 10, 50))])
    p.ingest_pageviews(hour_key(1, 11))
    p.land_pageviews([])
    p.ingest_pageviews(hour_key(1, 10))  # hour 10 now contributes nothing
    hourly = {(T(1, 10), UNKNOWN, 1)}  # "/a" is still held by load 11
    assert_views(p, hourly, hourly)


def test_reingest_users_date_replaces_snapshot(platform: Platform) -> None:
    p = platform
    p.land_users([(1, "A"), (2, "X"), (3, None)])
    p.ingest_users(date_key(1))
    p.land_pageviews([(1, "/a", T(1, 10, 0)), (2, "/a", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(1, 10))
    first = {(T(1, 10), "A", 1), (T(1, 10), "X", 1)}
    assert_views(p, first, first)
    p.land_users([(1, "B")])  # corrected extract for the same date
    p.ingest_users(date_key(1))
    assert history(p) == [(1, "B", D(1), None, True)]
    assert users_quarantine(p) == []
    assert p.query("SELECT snapshot_date, id, postcode FROM raw.users_extract") == [(D(1), 1, "B")]
    hourly = {(T(1, 10), "B", 1), (T(1, 10), UNKNOWN, 1)}
    assert_views(p, hourly, hourly)


def test_running_twice_changes_nothing(platform: Platform) -> None:
    p = platform
    p.land_users([(1, "A"), (1, "a"), (2, None), (3, "C"), (3, "D")])
    p.ingest_users(date_key(1))
    p.land_pageviews([(1, "/a", T(1, 10, 0)), (1, "/a", T(1, 10, 0)), (None, "/a", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(1, 10))
    before = table_contents(p)
    p.ingest_users(date_key(1))  # landing unchanged: same snapshot again
    p.ingest_pageviews(hour_key(1, 10))
    after = table_contents(p)
    assert after == before
    hourly = {(T(1, 10), "A", 2)}
    assert_views(p, hourly, hourly)


def _ingest_snapshot_users_1_2(p: Platform) -> None:
    p.land_users([(1, "A"), (2, "B")])
    p.ingest_users(date_key(1))


def _ingest_pageviews_for_users_1_2_3(p: Platform) -> None:
    p.land_pageviews([(1, "/a", T(1, 10, 0)), (2, "/a", T(1, 10, 5)), (3, "/a", T(1, 10, 9))])
    p.ingest_pageviews(hour_key(1, 10))


def _core_and_views(p: Platform) -> dict[str, list[tuple]]:
    return {
        name: sorted(p.query(f"SELECT * FROM {name}"), key=repr)
        for name in (*VIEW_NAMES, "core.user_postcode_history", "core.pageview_fact")
    }


def test_unknown_until_users_ingested_then_reattributed_same_as_snapshot_first(
    platform: Platform, tmp_path: Path
) -> None:
    """Results don't depend on ingestion order: snapshot before or after the pageviews."""
    hourly = {(T(1, 10), "A", 1), (T(1, 10), "B", 1), (T(1, 10), UNKNOWN, 1)}
    _ingest_pageviews_for_users_1_2_3(platform)  # pageviews first
    unknown = {(T(1, 10), UNKNOWN, 3)}
    assert_views(platform, unknown, unknown)
    _ingest_snapshot_users_1_2(platform)  # no other command re-attributes them
    assert_views(platform, hourly, hourly)
    assert sorted(row[5] for row in fact(platform)) == ["A", "B", UNKNOWN]
    with platform_at(tmp_path / "snapshot_first") as other:
        _ingest_snapshot_users_1_2(other)
        _ingest_pageviews_for_users_1_2_3(other)
        assert_views(other, hourly, hourly)
        assert _core_and_views(other) == _core_and_views(platform)


def test_snapshots_in_any_order_and_current_is_latest_by_date(platform: Platform) -> None:
    """Two snapshots in either order: the middle-dated snapshot is ingested last."""
    p = platform
    extracts = {1: [(1, "A")], 2: [(1, "B")], 3: [(1, "A")]}
    for day in (1, 3, 2):
        p.land_users(extracts[day])
        p.ingest_users(date_key(day))
    p.land_pageviews([(1, "/a", T(day, 12, 0)) for day in (1, 2, 3)])
    p.ingest_pageviews(hour_key(3, 12))
    assert history(p) == srt(
        [
            (1, "A", D(1), D(2), False),
            (1, "B", D(2), D(3), False),
            (1, "A", D(3), None, True),
        ]
    )
    # Current = the latest snapshot by date (day 3: A), not the last ingested (day 2: B).
    assert_views(
        p,
        current_hourly={(T(1, 12), "A", 1), (T(2, 12), "A", 1), (T(3, 12), "A", 1)},
        at_view_hourly={(T(1, 12), "A", 1), (T(2, 12), "B", 1), (T(3, 12), "A", 1)},
    )


# --------------------------------------------------------------------------- capture


def test_captured_rows_equal_accepted_plus_quarantined_and_raw_is_verbatim(
    platform: Platform,
) -> None:
    p = platform
    users = [(1, " sw1a 1aa"), (1, "SW1A 1AA"), (2, "e1 6an "), (None, "X"), (3, " \t ")]
    p.land_users(users)
    p.ingest_users(date_key(1))
    raw_users = p.query("SELECT snapshot_date, id, postcode FROM raw.users_extract")
    assert sorted(raw_users, key=repr) == sorted([(D(1), i, pc) for i, pc in users], key=repr)
    quarantined = users_quarantine(p)
    assert len(quarantined) == 2
    accepted = 3  # users 1 (twice, identical after normalisation) and 2
    assert len(raw_users) == accepted + len(quarantined)

    pageviews = [
        (1, "/a", T(1, 10, 1)),
        (1, "/a", T(1, 10, 1)),
        (2, " /b", T(1, 10, 2)),
        (None, "/c", T(1, 10, 3)),
        (1, " ", T(1, 10, 4)),
        (1, "/late", datetime(2023, 12, 30)),
    ]
    p.land_pageviews(pageviews)
    p.ingest_pageviews(hour_key(1, 10))
    raw_pvs = p.query(
        "SELECT load_hour, user_id, url, pageview_datetime FROM raw.pageviews_extract"
    )
    assert sorted(raw_pvs, key=repr) == sorted([(T(1, 10), *r) for r in pageviews], key=repr)
    (accepted_views,) = p.query("SELECT sum(view_count) FROM core.pageview_fact")[0]
    assert accepted_views == 3
    assert len(raw_pvs) == accepted_views + len(pageviews_quarantine(p))

    # A second load is captured separately; the first is untouched.
    p.land_pageviews([(1, "/z", T(1, 11, 0))])
    p.ingest_pageviews(hour_key(1, 11))
    assert p.query(
        "SELECT load_hour, count(*) FROM raw.pageviews_extract GROUP BY ALL ORDER BY 1"
    ) == [(T(1, 10), 6), (T(1, 11), 1)]


# --------------------------------------------------------------------------- landing / empty


def test_empty_pageviews_load_is_normal_and_empty_users_snapshot_is_blocked(
    platform: Platform,
) -> None:
    p = platform
    p.land_pageviews([])  # landing table created by "someone else", empty, fresh warehouse
    assert p.ingest_pageviews(hour_key(1, 3)) == 0
    for name in VIEW_NAMES:
        assert p.view(name) == set()
    p.land_users([(1, "A")])
    p.ingest_users(date_key(1))
    p.land_pageviews([(1, "/a", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(1, 10))
    before = p.views()
    p.land_pageviews([])
    assert p.ingest_pageviews(hour_key(1, 11)) == 0
    assert p.views() == before
    p.land_users([])
    # A partial or empty extract must not look like a mass deletion: the ingest fails.
    assert p.ingest_users(date_key(2), expect_ok=False) == 1
    assert p.views() == before
    assert history(p) == [(1, "A", D(1), None, True)]
    hourly = {(T(1, 10), "A", 1)}
    assert_views(p, hourly, hourly)


# --------------------------------------------------------------------------- arguments


def _reject_bad_arguments(p: Platform) -> None:
    for bad in ("2024-13-01", "2024-02-30", "2023-12-31", "garbage", ""):
        code = exit_code(p.ingest_users, bad, expect_ok=False)
        assert code != 0, f"ingest-users --date {bad!r} exited 0"
    for bad in ("2024-01-01T25", "2024-13-01T10", "2023-12-31T23", "garbage", ""):
        code = exit_code(p.ingest_pageviews, bad, expect_ok=False)
        assert code != 0, f"ingest-pageviews --hour {bad!r} exited 0"


def test_invalid_date_or_hour_argument_fails_and_changes_nothing(platform: Platform) -> None:
    p = platform
    # On a fresh warehouse holding only the landing tables ...
    p.land_users([(1, "A")])
    p.land_pageviews([(1, "/a", T(1, 10, 0))])
    before = table_contents(p)
    _reject_bad_arguments(p)
    assert table_contents(p) == before
    # ... and on a warehouse that has data.
    p.ingest_users(date_key(1))
    p.land_pageviews([(1, "/a", T(1, 10, 0))])
    p.ingest_pageviews(hour_key(1, 10))
    # Fresh landing data that a wrongly-accepted command would pick up.
    p.land_users([(1, "CHANGED"), (7, "NEW")])
    p.land_pageviews([(1, "/b", T(1, 10, 0)), (7, "/b", T(1, 0, 0))])
    before = table_contents(p)
    _reject_bad_arguments(p)
    assert table_contents(p) == before
