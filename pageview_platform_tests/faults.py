"""Kills an ingest with SIGKILL at its write points and checks what the warehouse holds after.

A sweep builds a scenario's warehouse once (the ingests before the killed one, then the killed
ingest's rows landed), runs the killed ingest to the end once in a subprocess to list its write
points, and then, for each chosen write point k, on a fresh copy of that warehouse and Dagster
instance: runs the ingest in a subprocess that SIGKILLs itself at k (kill_at_write.py), checks the
warehouse holds the state before the ingest or the finished one and nothing between, runs the
same ingest again and checks the answers are the clean run's and the oracle's, with no run left
unfinished.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from pageview_platform_tests import oracle
from pageview_platform_tests.harness import VIEW_NAMES, Platform, platform_at
from pageview_platform_tests.kill_at_write import statement_target

REPO = Path(__file__).resolve().parent.parent

# What a snapshot moves and what a load merges: written together, in one transaction.
ANSWER_TABLES = (
    "core.user_postcode_history",
    "core.pageview_fact",
    "agg.current_postcode_by_user",
    *(
        f"agg.pageviews_by_{question}_{grain}"
        for question in ("postcode_at_view", "current_postcode")
        for grain in ("hourly", "daily", "monthly")
    ),
)
# Each written by one step's transaction of its own, before the answers'.
STEP_TABLES = (
    "raw.users_extract",
    "raw.pageviews_extract",
    "core.users_quarantine",
    "core.pageviews_quarantine",
    "ops.users_snapshot_captures",
    "ops.users_snapshot_users",
    "ops.pageview_load_captures",
    "ops.pageview_load_hours",
)
_UNFINISHED = {
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
}

State = dict[str, list[tuple]]
WritePoint = tuple[str, str]  # (kind, statement)


@dataclass(frozen=True)
class Scenario:
    """The ingests that made the warehouse, then the one that is killed."""

    name: str
    ingested: list[oracle.Event]
    killed: oracle.Event

    @property
    def cli_args(self) -> list[str]:
        kind, key, _ = self.killed
        if kind == "users":
            return ["ingest-users", "--date", key.isoformat()]
        return ["ingest-pageviews", "--hour", key.strftime("%Y-%m-%dT%H")]


def _t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute)


_USERS_JAN_2 = [(1, "AB1 2CD"), (2, "EF3 4GH"), (3, "NE1 1AA")]
_USERS_JAN_3 = [(1, "ZZ9 9ZZ"), (2, "EF3 4GH"), (4, "N1 9GU"), (None, "SW1A 1AA")]
_LOAD_5 = [
    (1, "/a", _t(2, 5, 10)),
    (2, "/b", _t(2, 5, 20)),
    (3, "/late", _t(1, 23, 0)),
]
_LOAD_6 = [
    (1, "/a", _t(2, 5, 10)),  # seen in load 5: counted once
    (2, "/b", _t(2, 5, 20)),
    (2, "/b", _t(2, 5, 20)),  # a double click load 5 missed: raises the count to 2
    (4, "/new", _t(2, 6, 30)),
    (5, "/unknown", _t(2, 6, 40)),
    (None, "/bad", _t(2, 6, 45)),
]

SCENARIOS = {
    "pageviews_load": Scenario(
        "pageviews_load",
        [("users", date(2024, 1, 2), _USERS_JAN_2), ("pageviews", _t(2, 5), _LOAD_5)],
        ("pageviews", _t(2, 6), _LOAD_6),
    ),
    "users_snapshot": Scenario(
        "users_snapshot",
        [
            ("users", date(2024, 1, 2), _USERS_JAN_2),
            ("pageviews", _t(2, 5), _LOAD_5),
            ("pageviews", _t(2, 6), _LOAD_6),
        ],
        ("users", date(2024, 1, 3), _USERS_JAN_3),
    ),
    "replaced_load": Scenario(
        "replaced_load",
        [
            ("users", date(2024, 1, 2), _USERS_JAN_2),
            ("pageviews", _t(2, 5), _LOAD_5),
            ("pageviews", _t(2, 6), _LOAD_6),
        ],
        # The extract re-ran the hour with fewer rows: counts go down, hours are rebuilt.
        ("pageviews", _t(2, 6), _LOAD_6[:2]),
    ),
    "back_dated_snapshot": Scenario(
        "back_dated_snapshot",
        [
            ("users", date(2024, 1, 2), _USERS_JAN_2),
            ("users", date(2024, 1, 4), _USERS_JAN_3),
            ("pageviews", _t(2, 5), _LOAD_5),
            ("pageviews", _t(2, 6), _LOAD_6),
            ("pageviews", _t(3, 10), [(1, "/c", _t(3, 10, 5)), (3, "/c", _t(3, 10, 6))]),
        ],
        # Re-attributes user 1's view of Jan 3 and user 4's view from before their first snapshot.
        ("users", date(2024, 1, 3), [(1, "SE1 7PB"), (3, "NE1 1AA"), (4, "E1 6AN")]),
    ),
}


def ingest(platform: Platform, event: oracle.Event) -> None:
    """Lands an event's rows and ingests them, in this process (the CLI's summary discarded, so
    the soak's tally stands out)."""
    kind, key, rows = event
    with redirect_stdout(io.StringIO()):
        if kind == "users":
            platform.land_users(rows)
            platform.ingest_users(key)
        else:
            platform.land_pageviews(rows)
            platform.ingest_pageviews(key)


def land(platform: Platform, event: oracle.Event) -> None:
    kind, _, rows = event
    if kind == "users":
        platform.land_users(rows)
    else:
        platform.land_pageviews(rows)


def warehouse_state(platform: Platform) -> State:
    """Every row of the BI views and of the tables an ingest writes, sorted (one connection)."""
    with duckdb.connect(str(platform.warehouse), read_only=True) as con:
        return {
            name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in (*VIEW_NAMES, *ANSWER_TABLES, *STEP_TABLES)
        }


def answers(state: State) -> State:
    """The part of a state the BI tool reads, or that moves in the same transaction with it."""
    return {name: state[name] for name in (*VIEW_NAMES, *ANSWER_TABLES)}


def views(state: State) -> dict[str, set[tuple]]:
    return {name: set(state[name]) for name in VIEW_NAMES}


def lost_and_double_counted(state: State, events: list[oracle.Event]) -> tuple[int, int]:
    """Pageviews the fact lacks and pageviews it counts beyond the oracle's count."""
    expected = oracle.counted_views(oracle.replay(events).loads, oracle.DEFAULT_START_DATE)
    # core.pageview_fact: pageview_hour, user_id, url, pageview_datetime, view_count, postcode
    counted = Counter({row[1:4]: row[4] for row in state["core.pageview_fact"]})
    lost = sum((expected - counted).values())
    double = sum((counted - expected).values())
    return lost, double


_ENVIRONMENT = (
    "PAGEVIEW_DUCKDB_PATH",
    "DAGSTER_HOME",
    "PAGEVIEW_START_DATE",
    "PAGEVIEW_DUCKDB_THREADS",
    "PAGEVIEW_DUCKDB_MEMORY_LIMIT",
    "PAGEVIEW_MAX_SNAPSHOT_SHRINK",
)


class KillServer:
    """kill_at_write.py --serve: one process per sweep that forks each killed ingest."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pageview_platform_tests.kill_at_write", "--serve"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, args: list[str], log: Path, kill_at: int) -> int:
        """Runs the CLI in the environment in force, counting write points into LOG and
        SIGKILLing itself at the KILL_AT-th (0: never); returns its exit code."""
        env = {name: os.environ[name] for name in _ENVIRONMENT}
        request = {"env": env, "log": str(log), "kill_at": kill_at, "args": args}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        code = int(self._process.stdout.readline())
        if code not in (0, -signal.SIGKILL):
            output = Path(f"{log}.out").read_text()[-2000:]
            raise AssertionError(f"{args} exited {code}: {output}")
        return code

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=60)


def read_points(log: Path) -> list[WritePoint]:
    return [tuple(line.split("\t", 1)) for line in log.read_text().splitlines()]


def unfinished_runs(instance: DagsterInstance) -> list:
    return [run for run in instance.get_runs() if run.status in _UNFINISHED]


def answers_commit(points: list[WritePoint]) -> int:
    """The write point (1-based) of the COMMIT that publishes the ingest's answers: the last one
    closing a transaction that wrote an answer table. Steps without answers may follow it (a
    snapshot's quarantine runs after its history)."""
    published, writes_answers = 0, False
    for index, (_, statement) in enumerate(points, start=1):
        if statement == "COMMIT":
            published = index if writes_answers else published
            writes_answers = False
        elif statement_target(statement) in ANSWER_TABLES:
            writes_answers = True
    return published


def sample(points: list[WritePoint], covered: set[str]) -> list[int]:
    """Write points (1-based) to kill at in CI: the first of each kind not yet in COVERED, and
    the COMMIT that publishes the answers."""
    chosen = []
    for index, (kind, _) in enumerate(points, start=1):
        if kind not in covered:
            covered.add(kind)
            chosen.append(index)
    return sorted({*chosen, answers_commit(points)})


@dataclass
class Tally:
    """Faults injected and survived, by kind of write point, with rows lost and double-counted."""

    injected: Counter[str] = field(default_factory=Counter)
    survived: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    double_counted: int = 0

    def table(self) -> str:
        lines = [f"{'kind':<20} {'injected':>8} {'survived':>8}"]
        for kind in sorted(self.injected):
            lines.append(f"{kind:<20} {self.injected[kind]:>8} {self.survived[kind]:>8}")
        total = sum(self.injected.values()), sum(self.survived.values())
        lines.append(f"{'total':<20} {total[0]:>8} {total[1]:>8}")
        lines.append(f"rows lost {self.lost}, rows double-counted {self.double_counted}")
        return "\n".join(lines)


class FaultSweep:
    """One scenario's warehouse, its killed ingest's write points, and a kill at any of them."""

    def __init__(self, scenario: Scenario, workdir: Path, server: KillServer) -> None:
        self.scenario = scenario
        self._workdir = workdir
        self._server = server
        self._base = workdir / "base"
        with platform_at(self._base) as platform:
            for event in scenario.ingested:
                ingest(platform, event)
            land(platform, scenario.killed)
            self.before = warehouse_state(platform)
            assert answers(self.before)["bi.pageviews_by_current_postcode_hourly"]
        events = [*scenario.ingested, scenario.killed]
        self.expected_views = oracle.expected_views(events)
        self._events = events
        clean = self._copy("clean")
        log = clean / "write_points.log"
        with platform_at(clean) as platform:
            assert server.run(scenario.cli_args, log, kill_at=0) == 0
            self.after = warehouse_state(platform)
        assert views(self.after) == self.expected_views
        self.points = read_points(log)
        self.answers_commit = answers_commit(self.points)
        assert answers(self.before) != answers(self.after), "the killed ingest changes nothing"

    def _copy(self, name: str) -> Path:
        target = self._workdir / name
        shutil.copytree(self._base, target)
        return target

    def kill_at(self, k: int, tally: Tally) -> None:
        """Kills the ingest at write point K, checks the state, retries, checks the answers."""
        kind = self.points[k - 1][0]
        tally.injected[kind] += 1
        where = f"{self.scenario.name}: killed at write point {k} ({kind}: {self.points[k - 1][1]})"
        directory = self._copy(f"kill_{k}")
        log = directory / "write_points.log"
        with platform_at(directory) as platform:
            assert self._server.run(self.scenario.cli_args, log, k) == -signal.SIGKILL, where
            assert read_points(log) == self.points[:k], where

            # (a) The previous consistent state, or the finished one: never something between.
            killed = warehouse_state(platform)
            published = k >= self.answers_commit
            assert answers(killed) == answers(self.after if published else self.before), where
            for table in STEP_TABLES:
                assert killed[table] in (self.before[table], self.after[table]), (where, table)
            with DagsterInstance.get() as instance:
                assert len(unfinished_runs(instance)) <= 1, where

            # (b) The same command again finishes the ingest: the clean run's answers, the oracle's.
            ingest(platform, self.scenario.killed)
            retried = warehouse_state(platform)
            assert retried == self.after, where
            assert views(retried) == self.expected_views, where
            lost, double = lost_and_double_counted(retried, self._events)
            tally.lost += lost
            tally.double_counted += double
            assert (lost, double) == (0, 0), where

            # (c) Nothing the killed process held is left holding up the next runs.
            with DagsterInstance.get() as instance:
                assert unfinished_runs(instance) == [], where
                failed = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
                for run in failed:
                    [failure] = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
                    assert "ended without finishing it" in failure.dagster_event.message, where
        shutil.rmtree(directory)
        tally.survived[kind] += 1
