"""The platform running itself: the daemon captures and processes loads nobody ingests by hand.

Starts `dagster dev` on a scratch warehouse and instance, then plays the extract process:
lands the hourly pageviews loads of the last full hours, waits for the sensors to take each
through the graph, and finally lands today's users snapshot a third smaller, which must be
held and alerted while the postcode history stays as it was. Every load is dated by the
hour or day its rows belong to, and that partition exists whatever the time of day. `dagster
dev` runs in its own session, which is stopped whole on every exit (success, failure, Ctrl-C,
SIGTERM). Run with `make live-demo`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType

import duckdb
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
    partition_loading_context,
)

from pageview_platform.assets.partitions import HOUR, Partitions
from pageview_platform.dagster_internals import PARTITION_NAME_TAG, InstigatorType
from pageview_platform.jobs import INGEST_PAGEVIEWS_LOAD
from pageview_platform.partition_keys import day_key, hour_key
from pageview_platform.settings import REPO_ROOT
from pageview_platform.simulator import SimulationConfig, Simulator

LIVE_DIR = REPO_ROOT / "data" / "live"
WAIT_SECONDS = 300
POLL_SECONDS = 5
LOADS = 2
# Longer than a slow demo takes: the users sensor must date the snapshot the same way all along.
DEMO_SPAN = timedelta(minutes=25)
STOP_GRACE_SECONDS = 30.0
USERS_SENSOR = "capture_new_users_snapshot"
PAGEVIEWS_SENSOR = "capture_new_pageviews_load"
# On its first tick each takes only a load the capture log does not hold (the baseline snapshot,
# ingested by hand before the daemon starts, it does hold).
CHECK_ALERTS_SENSOR = "alert_on_check_failure"
PORT = "3077"
_UNFINISHED = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
)


def sensor_snapshot_day(now: datetime) -> date:
    """The date the users sensor (automation.capture_new_users_snapshot) gives a snapshot at NOW."""
    return (now + timedelta(hours=12)).date()


def partition_exists(partitions: Partitions, key: str, now: datetime, daily: bool) -> bool:
    """Whether the daily (or hourly) partition KEY exists at NOW (naive UTC)."""
    definition = partitions.daily if daily else partitions.hourly
    with partition_loading_context(effective_dt=now.replace(tzinfo=UTC)):
        return definition.has_partition_key(key)


@dataclass(frozen=True)
class DemoPlan:
    """What the demo lands and under which partitions, decided once from the time it starts."""

    start_date: date
    baseline_day: date
    snapshot_day: date
    load_hours: tuple[datetime, ...]
    sensor_captures_snapshot: bool

    @property
    def partitions(self) -> Partitions:
        """The partitions the platform has with this plan's start date."""
        return Partitions.starting(self.start_date)


def plan_demo(now: datetime, loads: int = LOADS, span: timedelta = DEMO_SPAN) -> DemoPlan:
    """The plan for a demo started at NOW (naive UTC) that lasts at most SPAN."""
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    # Loads of hours already over, oldest first: each is dated by its own rows' hour.
    load_hours = tuple(current_hour - HOUR * n for n in range(loads, 0, -1))
    snapshot_day = now.date()
    baseline_day = snapshot_day - timedelta(days=1)
    start_date = min(baseline_day, load_hours[0].date())
    partitions = Partitions.starting(start_date)
    # The sensor dates a snapshot by the midnight nearest to its tick: from 12:00 UTC that is
    # tomorrow, which has no partition yet, so then the snapshot is ingested by hand.
    sensor_captures_snapshot = all(
        sensor_snapshot_day(moment) == snapshot_day
        and partition_exists(partitions, day_key(snapshot_day), moment, daily=True)
        for moment in (now, now + span)
    )
    return DemoPlan(start_date, baseline_day, snapshot_day, load_hours, sensor_captures_snapshot)


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent pid and session id of PID from /proc, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[3])


def session_members(leader: int, leader_running: bool = True) -> set[int]:
    """Live (not zombie) processes in LEADER's session or descended from it, read from /proc;
    LEADER_RUNNING False once the leader has been reaped."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    if not leader_running and leader in stats:
        # Linux reuses a session's id as a pid only once the session is empty.
        return set()
    members = {pid for pid, (_, _, sid) in stats.items() if sid == leader}
    grown = True
    while grown:
        children = {pid for pid, (_, ppid, _) in stats.items() if ppid in members}
        grown = not children <= members
        members |= children
    return {pid for pid in members if stats[pid][0] != "Z"}


def _signal(pids: set[int], signum: int) -> None:
    """Sends SIGNUM to each of PIDS that still exists."""
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def stop_session(process: subprocess.Popen, grace: float | None = None) -> set[int]:
    """Stops PROCESS (a session leader) and everything it started: SIGTERM, then SIGKILL after
    GRACE seconds (STOP_GRACE_SECONDS); returns the pids that had to be killed."""
    grace = STOP_GRACE_SECONDS if grace is None else grace

    def members() -> set[int]:
        return session_members(process.pid, leader_running=process.poll() is None)

    _signal(members(), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while members() or process.returncode is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    else:
        return set()
    killed = members()
    _signal(killed, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + grace
    while members() and time.monotonic() < deadline:
        time.sleep(0.1)
    return killed


class Terminated(Exception):
    """SIGTERM arrived; raised in the main thread so every cleanup runs."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turns SIGTERM into an exception in the main thread."""
    raise Terminated(f"signal {signum}")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block SIGTERM raises Terminated, so `finally` clauses run as for Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def own_session(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """COMMAND in a session of its own, stopped whole (children too) however the block exits."""
    process: subprocess.Popen | None = None
    try:
        with log.open("w") as out:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            yield process
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave the daemon behind.
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        terminate = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if process is not None:
                _say(f"stopping {Path(command[0]).name} {' '.join(command[1:4])} and its children")
                killed = stop_session(process)
                if killed:
                    _say(f"killed {len(killed)} processes that outlived SIGTERM")
        finally:
            signal.signal(signal.SIGINT, interrupt)
            signal.signal(signal.SIGTERM, terminate)


class LiveDemo:
    """The extract process's side of the demo, against the file the daemon works on."""

    def __init__(self, database: Path, dagster_home: Path, plan: DemoPlan) -> None:
        self.database = database
        self.dagster_home = dagster_home
        self.plan = plan
        self.daemon: subprocess.Popen | None = None
        self.simulator = Simulator(
            SimulationConfig(
                seed=7, users=200, pageviews_per_day=2400, start_date=plan.start_date, days=2
            )
        )

    def _check_daemon(self) -> None:
        """Exits the demo if `dagster dev` has exited: nothing would take the loads any more."""
        if self.daemon is not None and self.daemon.poll() is not None:
            raise SystemExit(
                f"live demo: dagster dev exited with {self.daemon.returncode};"
                f" see {LIVE_DIR / 'dagster.log'}"
            )

    def _retry(self, action: Callable[[], object]) -> object:
        # The daemon's runs and sensors hold the file now and then; the extract waits its turn.
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                return action()
            except duckdb.IOException:
                self._check_daemon()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def land(self, write: Callable[[duckdb.DuckDBPyConnection], object], what: str) -> None:
        """Replaces a landing table the way the extract does, waiting while the file is busy."""

        def go() -> object:
            with duckdb.connect(str(self.database)) as con:
                return write(con)

        self._retry(go)
        _say(f"landed {what}")

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        """The rows of a read-only query, waiting while the file is busy."""

        def go() -> list[tuple]:
            with duckdb.connect(str(self.database), read_only=True) as con:
                return con.execute(sql, params or []).fetchall()

        return self._retry(go)  # type: ignore[return-value]

    def _poll(self, done: Callable[[], bool], what: str) -> None:
        """Polls DONE until true; exits the demo after WAIT_SECONDS or if dagster dev dies."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            self._check_daemon()
            if done():
                _say(f"done: {what}")
                return
            time.sleep(POLL_SECONDS)
        raise SystemExit(f"live demo: timed out waiting until {what}")

    def wait_until(self, sql: str, what: str, params: list[object] | None = None) -> None:
        """Polls until SQL returns true."""

        def done() -> bool:
            try:
                return self.query(sql, params) == [(True,)]
            except duckdb.CatalogException:
                return False

        self._poll(done, what)

    def _runs(self, filters: RunsFilter) -> list[DagsterRun]:
        """The instance's runs matching FILTERS."""
        with DagsterInstance.from_config(str(self.dagster_home)) as instance:
            return list(instance.get_runs(filters=filters))

    def wait_for_first_ticks(self, sensors: list[str]) -> None:
        """Polls the instance until each of SENSORS has ticked once and kept a cursor."""

        def done() -> bool:
            with DagsterInstance.from_config(str(self.dagster_home)) as instance:
                states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
            ticked = {
                state.instigator_name
                for state in states
                if getattr(state.instigator_data, "cursor", None) is not None
            }
            return ticked >= set(sensors)

        self._poll(done, f"first ticks of {', '.join(sensors)}")

    def wait_for_load(self, hour: datetime) -> None:
        """Polls until the daemon's run for HOUR's load ended having captured it."""
        key = hour_key(hour)
        filters = RunsFilter(job_name=INGEST_PAGEVIEWS_LOAD, tags={PARTITION_NAME_TAG: key})

        def done() -> bool:
            statuses = {run.status for run in self._runs(filters)}
            if DagsterRunStatus.SUCCESS not in statuses:
                if DagsterRunStatus.FAILURE in statuses:
                    raise SystemExit(f"live demo: the run for load {key} failed; see the UI")
                return False
            captured = self.query(
                "SELECT count(*) > 0 FROM ops.pageview_load_captures WHERE load_hour = $1", [hour]
            )
            if captured != [(True,)]:
                raise SystemExit(f"live demo: the run for load {key} captured nothing (refused?)")
            return True

        self._poll(done, f"load {hour:%H}:00 captured and attributed")

    def wait_until_idle(self) -> None:
        """Polls until no run is queued or running, so stopping the daemon interrupts none."""
        filters = RunsFilter(statuses=list(_UNFINISHED))
        self._poll(lambda: not self._runs(filters), "no run queued or running")


def _say(message: str) -> None:
    """Prints MESSAGE with the UTC time."""
    print(f"{datetime.now(UTC):%H:%M:%S}  {message}", flush=True)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs `pageview-platform ARGS`, again while it reports the warehouse busy."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "pageview_platform", *args],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        for line in (done.stdout + done.stderr).splitlines():
            if line.strip():
                _say(f"  {line}")
        if "warehouse is busy" not in done.stderr or time.monotonic() > deadline:
            return done
        time.sleep(2)


def _stop_users_sensor(env: dict[str, str]) -> None:
    """Stops the users sensor in the instance before the daemon starts, so it never ticks."""
    command = ["dagster", "sensor", "stop", USERS_SENSOR, "-w", "workspace.yaml"]
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"live demo: {' '.join(command)} failed: {done.stderr.strip()[-300:]}")
    _say(f"stopped the sensor {USERS_SENSOR}")


def main(now: datetime | None = None) -> int:
    """Runs the live demo; exit 0 when every step happened without a command."""
    plan = plan_demo(now or datetime.now(UTC).replace(tzinfo=None))
    shutil.rmtree(LIVE_DIR, ignore_errors=True)
    LIVE_DIR.mkdir(parents=True)
    database = LIVE_DIR / "warehouse.duckdb"
    env = {
        **os.environ,
        "PAGEVIEW_DUCKDB_PATH": str(database),
        "DAGSTER_HOME": str(LIVE_DIR / "dagster_home"),
        "PAGEVIEW_START_DATE": plan.start_date.isoformat(),
        "PAGEVIEW_MAX_SNAPSHOT_SHRINK": "0.10",
    }
    demo = LiveDemo(database, LIVE_DIR / "dagster_home", plan)
    hours = ", ".join(f"{hour:%Y-%m-%d %H}:00" for hour in plan.load_hours)
    _say(f"plan: loads of the last full hours ({hours}); users snapshots of {plan.baseline_day}")
    _say(
        f"  (by hand, the baseline) and {plan.snapshot_day} ("
        + (
            "captured by the users sensor)"
            if plan.sensor_captures_snapshot
            else "by hand: from 12:00 UTC the users sensor dates a snapshot tomorrow, which has"
            " no partition yet, so it is stopped)"
        )
    )

    dagster_dev = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", PORT]
    try:
        with sigterm_raises():
            return _run(demo, env, dagster_dev)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Terminated:
        _say("terminated")
        return 143


def _run(demo: LiveDemo, env: dict[str, str], dagster_dev: list[str]) -> int:
    """Ingests the baseline by hand, then plays the extract against `dagster dev`; the exit code."""
    plan = demo.plan
    # Yesterday's snapshot, ingested by hand before the daemon starts: the baseline.
    demo.land(
        lambda con: demo.simulator.write_users_snapshot(con, plan.baseline_day),
        f"the users snapshot of {plan.baseline_day}",
    )
    if _cli(env, "ingest-users", "--date", day_key(plan.baseline_day)).returncode:
        raise SystemExit("live demo: the baseline users snapshot was not ingested")
    if not plan.sensor_captures_snapshot:
        _stop_users_sensor(env)

    with own_session(dagster_dev, env, LIVE_DIR / "dagster.log") as daemon:
        demo.daemon = daemon
        _say(f"dagster dev started (UI on http://localhost:{PORT}); waiting for sensor ticks")
        sensors = [PAGEVIEWS_SENSOR, CHECK_ALERTS_SENSOR]
        if plan.sensor_captures_snapshot:
            sensors.append(USERS_SENSOR)
        demo.wait_for_first_ticks(sensors)
        return _play(demo, env)


def _play(demo: LiveDemo, env: dict[str, str]) -> int:
    """Lands the loads and the shrunken snapshot and reports what the daemon did; the exit code."""
    plan = demo.plan
    for hour in plan.load_hours:
        demo.land(
            lambda con, hour=hour: demo.simulator.write_pageviews_load(con, hour),
            f"pageviews load {hour_key(hour)}",
        )
        demo.wait_for_load(hour)
    before = demo.query("SELECT * FROM core.user_postcode_history ORDER BY ALL")

    def shrunken(con: duckdb.DuckDBPyConnection) -> None:
        demo.simulator.write_users_snapshot(con, plan.snapshot_day)
        con.execute("DELETE FROM landing.users_extract WHERE id % 3 = 0")

    demo.land(shrunken, f"the users snapshot of {plan.snapshot_day} with a third missing")
    if not plan.sensor_captures_snapshot:
        # Its blocking check holds it and fails the run, so the command exits 1: expected here.
        _cli(env, "ingest-users", "--date", day_key(plan.snapshot_day))
    demo.wait_until(
        "SELECT count(*) > 0 FROM ops.alerts WHERE subject LIKE '%snapshot_not_shrunk%'",
        "the shrunken snapshot was held and alerted",
    )
    demo.wait_until_idle()
    unchanged = demo.query("SELECT * FROM core.user_postcode_history ORDER BY ALL") == before
    _say(f"postcode history unchanged: {unchanged}")
    for period_start, pageviews in demo.query(
        "SELECT period_start, sum(pageviews) FROM bi.pageviews_by_postcode_at_view_hourly"
        " GROUP BY 1 ORDER BY 1"
    ):
        _say(f"  {period_start:%Y-%m-%d %H}:00  {pageviews} pageviews")
    for kind, subject, message in demo.query(
        "SELECT kind, subject, message FROM ops.alerts ORDER BY raised_at"
    ):
        _say(f"  alert {kind} {subject}: {message[:110]}")
    return 0 if unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
