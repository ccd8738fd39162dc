"""The current-postcode answer per hour and per day covers recent periods only.

With PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS = R, let D be the date of the latest ACCEPTED users
snapshot built into postcode history (a held one counts once accepted; one changing nobody's
postcode counts too; a rebuild of an older date never lowers it). Then
bi.pageviews_by_current_postcode_hourly and _daily hold only the periods from
recent_from = D 00:00 - R days on, whenever their views arrived (late rows and old loads
ingested after the window moved included); the current monthly view and all three
postcode-at-view views hold all history. Before any snapshot is accepted there is no window.

The scenario below runs with R = 2 over a week of snapshots, checked against the oracle
(oracle.expected_views, which reads R from the environment) after every step: the six warehouse
views and the published BI database, row by row.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

from pageview_platform.warehouse import publish as publishing
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform, environment, platform_at
from pageview_platform_tests.test_oracle_scenarios import assert_agrees, d, h, ingest, t

RECENT_DAYS = 2
# A shrink check on, so that a snapshot missing most users is held (until accepted).
SHRINK = "0.5"

CURRENT_HOURLY = "bi.pageviews_by_current_postcode_hourly"
CURRENT_DAILY = "bi.pageviews_by_current_postcode_daily"
CURRENT_MONTHLY = "bi.pageviews_by_current_postcode_monthly"
AT_VIEW_HOURLY = "bi.pageviews_by_postcode_at_view_hourly"
AT_VIEW_DAILY = "bi.pageviews_by_postcode_at_view_daily"
AT_VIEW_MONTHLY = "bi.pageviews_by_postcode_at_view_monthly"

# Users 1-4; user 9 is never in a snapshot (UNKNOWN). Movers: 1 and 2 on 01-03, 1 and 3 on
# 01-05, 4 on 01-03 once that snapshot is rebuilt. recent_from (R = 2) after each snapshot:
# 01-01 -> 2023-12-30, 01-03 -> 01-01, 01-05 -> 01-03, 01-06 held -> still 01-03,
# 01-06 accepted -> 01-04, 01-03 rebuilt -> still 01-04.
WINDOW: list[oracle.Event] = [
    # 0
    ("users", d(1, 1), [(1, "SW1A 1AA"), (2, "EC1A 1BB"), (3, "W1A 0AX"), (4, "N1 9GU")]),
    # 1
    (
        "pageviews",
        h(1, 2, 9),
        [
            (1, "/a", t(1, 1, 10, 5)),  # late (a day)
            (1, "/a", t(1, 1, 10, 5)),  # double click
            (2, "/b", t(1, 2, 9, 10)),
            (3, "/c", t(1, 2, 10, 0)),
            (4, "/d", t(1, 1, 23, 50)),  # late
            (9, "/z", t(1, 2, 9, 45)),
        ],
    ),
    # 2: users 1 and 2 move; the window starts at 01-01 (nothing before it yet)
    ("users", d(1, 3), [(1, "NW1 4RY"), (2, "E1 6AN"), (3, "W1A 0AX"), (4, "N1 9GU")]),
    # 3: users 1 and 3 move, user 4 is absent (keeps N1 9GU): the window moves to 01-03,
    # dropping 01-01 and 01-02 from the current hourly and daily answers
    ("users", d(1, 5), [(1, "SE1 7PB"), (2, "E1 6AN"), (3, "E14 5AB")]),
    # 4: late rows on both sides of recent_from (01-03 00:00)
    (
        "pageviews",
        h(1, 5, 8),
        [
            (2, "/b", t(1, 5, 8, 5)),
            (1, "/a", t(1, 5, 9, 59, 59, 999999)),
            (4, "/d", t(1, 4, 13, 10)),
            (9, "/z", t(1, 4, 12, 40)),
            (2, "/late", t(1, 2, 15, 0)),  # before recent_from: at view and monthly only
            (2, "/b", t(1, 3, 0, 0)),  # exactly recent_from: kept, until 01-06 is accepted
            (3, "/c", t(1, 2, 23, 59, 59, 999999)),  # just before it: dropped
        ],
    ),
    # 5: an old load ingested after the window moved past its hour
    (
        "pageviews",
        h(1, 1, 20),
        [(1, "/old", t(1, 1, 20, 0)), (3, "/old", t(1, 1, 21, 30)), (9, "/old", t(1, 1, 20, 10))],
    ),
    # 6: 1 user against 01-05's 3: held, so the window stays at 01-03
    ("users", d(1, 6), [(1, "SE1 7PB")]),
    # 7: accepted as it is; it changes nobody's postcode, yet moves the window to 01-04
    ("accept", d(1, 6), None),
    # 8: 01-03 rebuilt (user 4 moves there, their latest snapshot): the window stays at 01-04,
    # user 4's views are re-attributed within it and in every month
    ("users", d(1, 3), [(1, "NW1 4RY"), (2, "E1 6AN"), (3, "W1A 0AX"), (4, "SW1A 2AA")]),
    # 9: an old load replaced after the window moved: only the months and the at-view answers
    # change (the double click goes, a view is added); and a view inside the window
    (
        "pageviews",
        h(1, 2, 9),
        [
            (1, "/a", t(1, 1, 10, 5)),
            (2, "/b", t(1, 2, 9, 10)),
            (3, "/c", t(1, 2, 10, 0)),
            (4, "/d", t(1, 1, 23, 50)),
            (9, "/z", t(1, 2, 9, 45)),
            (2, "/b2", t(1, 2, 9, 50)),
            (4, "/d", t(1, 2, 10, 30)),
        ],
    ),
]

# recent_from after each event of WINDOW, by hand.
RECENT_FROM = [
    datetime(2023, 12, 30),
    datetime(2023, 12, 30),
    t(1, 1, 0),
    t(1, 3, 0),
    t(1, 3, 0),
    t(1, 3, 0),
    t(1, 3, 0),  # held
    t(1, 4, 0),  # accepted
    t(1, 4, 0),  # 01-03 rebuilt: never backwards
    t(1, 4, 0),
]
# Every view, each counted once.
VIEWS = 17


def _total(rows: set[tuple[datetime, str, int]]) -> int:
    return sum(n for _, _, n in rows)


# ---------------------------------------------------------------- the oracle itself


def test_the_oracle_windows_the_current_hourly_and_daily_answers() -> None:
    """The oracle's rule by hand, so the scenario cannot pass vacuously."""
    assert oracle.recent_from([], SHRINK, RECENT_DAYS) is None
    # Pageviews before any snapshot: no window, every period kept.
    only_views = [WINDOW[1], WINDOW[5]]
    assert oracle.recent_from(only_views, SHRINK, RECENT_DAYS) is None
    assert oracle.expected_views(only_views, recent_days=RECENT_DAYS) == (
        oracle.all_history_views(only_views)
    )

    assert oracle.replay(WINDOW, SHRINK).exit_codes == [0] * 6 + [1] + [0] * 3
    got = [oracle.recent_from(WINDOW[: i + 1], SHRINK, RECENT_DAYS) for i in range(len(WINDOW))]
    assert got == RECENT_FROM
    # The default R comes from the environment, else 7.
    with environment({oracle.RECENT_DAYS_VARIABLE: ""}):
        assert oracle.recent_from(WINDOW, SHRINK) == t(1, 6, 0) - timedelta(days=7)
    with environment({oracle.RECENT_DAYS_VARIABLE: str(RECENT_DAYS)}):
        assert oracle.recent_from(WINDOW, SHRINK) == t(1, 4, 0)
        assert oracle.expected_views(WINDOW, max_shrink=SHRINK) == oracle.expected_views(
            WINDOW, max_shrink=SHRINK, recent_days=RECENT_DAYS
        )

    full = oracle.all_history_views(WINDOW, max_shrink=SHRINK)
    views = oracle.expected_views(WINDOW, max_shrink=SHRINK, recent_days=RECENT_DAYS)
    since = t(1, 4, 0)
    for name in (CURRENT_HOURLY, CURRENT_DAILY):
        # Some periods are dropped, and exactly those before recent_from.
        assert views[name] < full[name]
        assert views[name] == {row for row in full[name] if row[0] >= since}
        assert all(row[0] >= since for row in views[name])
        assert any(row[0] < since for row in full[name])
    for name in (CURRENT_MONTHLY, AT_VIEW_HOURLY, AT_VIEW_DAILY, AT_VIEW_MONTHLY):
        assert views[name] == full[name]

    # Every view counts once in every all-history answer, under one postcode or another.
    everything = sum(oracle.counted_views(oracle.replay(WINDOW, SHRINK).loads, d(1, 1)).values())
    assert everything == VIEWS
    for name in (CURRENT_MONTHLY, AT_VIEW_HOURLY, AT_VIEW_DAILY, AT_VIEW_MONTHLY):
        assert _total(views[name]) == everything
    # The windowed answers agree with each other: days are whole hours from midnight on.
    assert _total(views[CURRENT_HOURLY]) == _total(views[CURRENT_DAILY])
    assert _total(views[CURRENT_HOURLY]) == sum(
        n for period, _, n in views[AT_VIEW_HOURLY] if period >= since
    )

    # A few rows spelled out.
    jan = t(1, 1, 0)
    # The late row of 01-02 15h (user 2, EC1A 1BB then, E1 6AN now) and the old load's hours.
    assert (t(1, 2, 15), "EC1A 1BB", 1) in views[AT_VIEW_HOURLY]
    assert not any(period < since for period, _, _ in views[CURRENT_HOURLY])
    assert (t(1, 1, 20), "SW1A 1AA", 1) in views[AT_VIEW_HOURLY]
    assert (t(1, 1, 20), "SE1 7PB", 1) in full[CURRENT_HOURLY]
    # 01-03 was in the window while 01-06 was held, until it was accepted.
    before_accept = oracle.expected_views(WINDOW[:7], max_shrink=SHRINK, recent_days=RECENT_DAYS)
    assert (t(1, 3, 0), "E1 6AN", 1) in before_accept[CURRENT_HOURLY]
    assert min(period for period, _, _ in before_accept[CURRENT_HOURLY]) == t(1, 3, 0)
    assert (t(1, 2, 23), "W1A 0AX", 1) in before_accept[AT_VIEW_HOURLY]  # 1 microsecond before
    assert (t(1, 3, 0), "E1 6AN", 1) not in views[CURRENT_HOURLY]
    # User 4 (SW1A 2AA since 01-03's rebuild): the 01-04 view in the window, every view
    # (01-01 late row, 01-02, 01-04) in the month.
    assert (t(1, 4, 0), "SW1A 2AA", 1) in views[CURRENT_DAILY]
    assert (jan, "SW1A 2AA", 3) in views[CURRENT_MONTHLY]
    assert (t(1, 2, 10), "N1 9GU", 1) in views[AT_VIEW_HOURLY]


# ---------------------------------------------------------------- through the platform


@pytest.fixture(
    params=[
        "duckdb",
        # On fakesnow this costs several times DuckDB's run: left to `make test-snowflake`.
        pytest.param("snowflake", marks=[pytest.mark.snowflake, pytest.mark.snowflake_extended]),
    ]
)
def windowed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    """A fresh warehouse with R = RECENT_DAYS and the shrink check at SHRINK."""
    with (
        environment({oracle.RECENT_DAYS_VARIABLE: str(RECENT_DAYS)}),
        platform_at(tmp_path, max_snapshot_shrink=SHRINK, warehouse=request.param) as p,
    ):
        yield p


def test_current_hourly_and_daily_keep_recent_periods_only(windowed: Platform) -> None:
    """Movers over a week of snapshots, late rows and an old load behind the window, a held
    snapshot accepted later, a rebuilt older snapshot: every row of the six answers (and of the
    published BI database) is the oracle's after every step."""
    assert oracle.recent_days_setting() == RECENT_DAYS
    # Every publish after the first patches the last file, as at full volume.
    with mock.patch.object(publishing, "REWRITE_SHARE", math.inf):
        for i, event in enumerate(WINDOW):
            ingest(windowed, event, WINDOW[:i], SHRINK)
            if i > 0:  # once there are views
                assert_agrees(windowed, WINDOW[: i + 1], f" (step {i})", SHRINK)

    views = windowed.views()
    since = oracle.recent_from(WINDOW, SHRINK)
    assert since == t(1, 4, 0)
    for name in (CURRENT_HOURLY, CURRENT_DAILY):
        assert views[name] and all(period >= since for period, _, _ in views[name]), name
    assert any(period < since for period, _, _ in views[AT_VIEW_HOURLY])
    # Every view still counts once per month under its user's current postcode.
    assert _total(views[CURRENT_MONTHLY]) == _total(views[AT_VIEW_MONTHLY]) == VIEWS
    published = windowed.published_views()
    if published is not None:
        assert published == views
