"""Issue 14's reproductions of held snapshots, replayed through the CLI against the oracle.

The warehouse runs with PAGEVIEW_MAX_SNAPSHOT_SHRINK=0.10, the default. Every snapshot holds 40
other users (100+i, 'Z') unless noted, so dropping 20 (or 10) of them is a shrink of more than
10%. The oracle's model (oracle.replay) decides which ingest is held and what each answer is:
held snapshots change nothing, the date's accepted snapshot stays in use, and the answers are a
function of the accepted snapshots and the loads alone. After every step the warehouse (the six
BI views, both quarantines and the raw captures, accepted and held) equals the oracle's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform, platform_at
from pageview_platform_tests.test_oracle_scenarios import assert_agrees, ingest, warehouse_state

SHRINK = "0.10"
OTHERS = [(100 + i, "Z") for i in range(40)]


def day(n: int) -> date:
    return date(2024, 1, n)


def at(n: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, n, hour)


# User 1 is A on the 5th and C on the 6th and 7th; one view of theirs at 09:00 on the 4th to
# the 7th, all in the load of the 7th's 09:00 hour (the earlier ones are late rows).
SETUP: list[oracle.Event] = [
    ("users", day(5), [(1, "A"), *OTHERS]),
    ("users", day(6), [(1, "C"), *OTHERS]),
    ("users", day(7), [(1, "C"), *OTHERS]),
    ("pageviews", at(7, 9), [(1, "/p", at(n, 9)) for n in (4, 5, 6, 7)]),
]


class _OneConnection(Platform):
    """A Platform whose queries share one read-only connection (a comparison is ~12 queries)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        return self._con.execute(sql, params or []).fetchall()


class Replay:
    """A warehouse and the events run on it so far; each step is checked with the oracle."""

    def __init__(self, p: Platform) -> None:
        self.p = p
        self.events: list[oracle.Event] = []

    def step(self, event: oracle.Event, want_code: int) -> None:
        """Runs EVENT; its exit code is the oracle's (and WANT_CODE, spelled out here)."""
        assert oracle.exit_code([*self.events, event], max_shrink=SHRINK) == want_code
        assert ingest(self.p, event, self.events, SHRINK) == want_code
        self.events.append(event)
        with duckdb.connect(str(self.p.warehouse), read_only=True) as con:
            when = f" (step {len(self.events) - 1})"
            assert_agrees(_OneConnection(con), self.events, when, SHRINK)

    def postcodes_of_user_1(self) -> tuple[dict[date, str], str]:
        """User 1's postcode at view on the 4th to the 7th, and their current postcode."""
        at_view = self.p.view("bi.pageviews_by_postcode_at_view_daily")
        current = self.p.view("bi.pageviews_by_current_postcode_monthly")
        assert len(current) == 1, current
        return {period.date(): postcode for period, postcode, _ in at_view}, next(iter(current))[1]


@pytest.fixture(scope="module")
def after_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder (warehouse and Dagster instance) once SETUP ran, checked step by step."""
    directory = tmp_path_factory.mktemp("held_setup")
    with platform_at(directory, max_snapshot_shrink=SHRINK) as p:
        r = Replay(p)
        for event in SETUP:
            r.step(event, 0)
    return directory


@pytest.fixture
def replay(after_setup: Path, tmp_path: Path) -> Iterator[Replay]:
    """A copy of the folder after SETUP: each test starts there without running it again."""
    directory = tmp_path / "platform"
    shutil.copytree(after_setup, directory)
    with platform_at(directory, max_snapshot_shrink=SHRINK) as p:
        r = Replay(p)
        r.events = list(SETUP)
        yield r


def test_the_model_holds_against_the_latest_accepted_snapshot() -> None:
    """The oracle's rule, by hand: empty or shrunk by more than the share against the latest
    accepted snapshot before the date (never a held one) is held; accept takes it as it is."""
    events: list[oracle.Event] = [
        ("users", day(7), [(1, "C")]),  # no earlier accepted snapshot: no shrink
        ("users", day(5), [(1, "A"), *OTHERS]),  # back-dated
        ("users", day(6), [(1, "C"), *OTHERS[:20]]),  # 21 against 41: held
        ("users", day(6), [(1, "C"), *OTHERS[:30]]),  # 31 against 41 (not the held 21): held
        ("users", day(6), [(1, "C"), *OTHERS[:36], (None, "Z")]),  # 37: 9.8% fewer, accepted
        ("users", day(6), [(None, "Z")] * 50),  # NULL ids are not users: held
        ("accept", day(5), None),  # nothing held on the 5th
        ("users", day(7), []),  # empty: held
        ("accept", day(7), None),  # accepted as it is
        ("users", day(8), [(1, "D")]),  # against the 7th's accepted empty one: no shrink
    ]
    model = oracle.replay(events, SHRINK)
    assert model.exit_codes == [0, 0, 1, 1, 0, 1, 1, 1, 0, 0]
    assert [oracle.was_held(events, i, SHRINK) for i in range(len(events))] == [
        False, False, True, True, False, True, False, True, False, False
    ]  # fmt: skip
    assert model.snapshots == {
        day(5): events[1][2],
        day(6): events[4][2],
        day(7): [],
        day(8): [(1, "D")],
    }
    assert model.held == {day(6): [(None, "Z")] * 50}
    # Shrink check off (1.0, the scenarios' default): only the empty one is held.
    assert oracle.replay(events).exit_codes == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    # The answers read the accepted snapshots only: user 1 is C on the 6th, D from the 8th.
    views = oracle.expected_views(
        [*events, ("pageviews", at(8), [(1, "/p", at(6, 9))])], max_shrink=SHRINK
    )
    assert views["bi.pageviews_by_postcode_at_view_daily"] == {(at(6), "C", 1)}
    assert views["bi.pageviews_by_current_postcode_daily"] == {(at(6), "D", 1)}


def test_a_refused_ingest_changes_nothing_a_later_one_applies(replay: Replay) -> None:
    """Issue 14, reproduction 1: a correction made while a later date is held applies at once
    (it is accepted), and nothing held leaks into a later, unrelated ingest."""
    assert replay.postcodes_of_user_1() == (
        {day(4): "A", day(5): "A", day(6): "C", day(7): "C"},
        "C",
    )
    # The 7th re-landed with only 20 of the other users: held (21 users against 41), its bad
    # row quarantined nowhere (a held snapshot is applied nowhere).
    replay.step(("users", day(7), [(1, "C"), *OTHERS[:20], (None, "Z")]), 1)
    # A second partial extract in a row is still held: 31 users against the accepted 41,
    # not against the held 21.
    replay.step(("users", day(7), [(1, "C"), *OTHERS[:30]]), 1)
    # A correction of the 6th to B passes (41 against the 5th's 41): accepted, applied at once.
    replay.step(("users", day(6), [(1, "B"), *OTHERS]), 0)
    assert replay.postcodes_of_user_1() == (
        {day(4): "A", day(5): "A", day(6): "B", day(7): "C"},
        "C",
    )
    # The 7th re-landed complete: accepted, the held one discarded.
    replay.step(("users", day(7), [(1, "C"), *OTHERS]), 0)
    # An unrelated back-dated snapshot of the 4th (user 2, not user 1): nothing else moves.
    replay.step(("users", day(4), [(2, "Y"), *OTHERS]), 0)
    assert replay.postcodes_of_user_1() == (
        {day(4): "A", day(5): "A", day(6): "B", day(7): "C"},
        "C",
    )


def test_a_held_empty_snapshot_leaves_corrections_and_acceptance_working(
    replay: Replay,
) -> None:
    """Issue 14, reproduction 2: the 7th re-captured empty is held and its accepted snapshot
    stays in use, so a correction of the 6th works and history runs through the 7th; an
    accept-snapshot with nothing held changes nothing; accepting the empty 7th as it is does
    what the model says (user 1 keeps the 6th's postcode)."""
    replay.step(("users", day(7), []), 1)
    replay.step(("users", day(6), [(1, "B"), *OTHERS]), 0)
    assert replay.postcodes_of_user_1() == (
        {day(4): "A", day(5): "A", day(6): "B", day(7): "C"},
        "C",
    )

    before = warehouse_state(replay.p)
    held = replay.p.query("SELECT snapshot_date, id, postcode FROM raw.users_extract_held")
    replay.step(("accept", day(5), None), 1)  # nothing held on the 5th
    assert warehouse_state(replay.p) == before
    assert replay.p.query("SELECT snapshot_date, id, postcode FROM raw.users_extract_held") == held

    replay.step(("accept", day(7), None), 0)  # the held empty 7th, as it is
    assert replay.postcodes_of_user_1() == (
        {day(4): "A", day(5): "A", day(6): "B", day(7): "B"},
        "B",
    )
