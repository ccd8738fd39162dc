"""The live demo's plan holds at any time of day, and its cleanup leaves no process behind."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pageview_platform.automation import _PAGEVIEWS_FINGERPRINT
from pageview_platform.live_demo import (
    DEMO_SPAN,
    LiveDemo,
    Terminated,
    own_session,
    partition_exists,
    plan_demo,
    sensor_snapshot_day,
    session_members,
    sigterm_raises,
)
from pageview_platform.partition_keys import day_key, hour_key

# Every half hour of a day, and the minutes either side of noon and midnight.
_DAY = datetime(2026, 3, 14)
_MOMENTS = [_DAY + timedelta(minutes=30 * n) for n in range(48)] + [
    _DAY + timedelta(hours=11, minutes=59),
    _DAY + timedelta(hours=23, minutes=59, seconds=59),
    _DAY + timedelta(hours=12, minutes=0, seconds=1),
]


@pytest.mark.parametrize("now", _MOMENTS, ids=lambda now: f"{now:%H:%M:%S}")
def test_every_landing_is_dated_under_a_partition_that_exists(now: datetime) -> None:
    plan = plan_demo(now)
    partitions = plan.partitions
    assert len(plan.load_hours) == 2
    for hour in plan.load_hours:
        # A past, full hour: its rows are all in, and its partition exists now.
        assert hour + timedelta(hours=1) <= now
        assert partition_exists(partitions, hour_key(hour), now, daily=False)
    assert plan.load_hours[-1] == now.replace(minute=0, second=0) - timedelta(hours=1)
    for day in (plan.baseline_day, plan.snapshot_day):
        assert partition_exists(partitions, day_key(day), now, daily=True)
    assert plan.baseline_day < plan.snapshot_day
    if plan.sensor_captures_snapshot:
        # The sensor dates the snapshot the planned day whenever it ticks during the demo.
        for moment in (now, now + DEMO_SPAN / 2, now + DEMO_SPAN):
            assert sensor_snapshot_day(moment) == plan.snapshot_day


@pytest.mark.parametrize(
    ("clock", "by_sensor"),
    [("00:00", True), ("09:00", True), ("11:30", True), ("11:45", False), ("17:30", False)],
)
def test_the_sensor_captures_the_snapshot_only_while_its_date_has_a_partition(
    clock: str, by_sensor: bool
) -> None:
    now = datetime.fromisoformat(f"2026-03-14T{clock}")
    assert plan_demo(now).sensor_captures_snapshot is by_sensor


def test_the_afternoon_sensor_date_has_no_partition() -> None:
    # Why the afternoon demo ingests the snapshot by hand (reported against automation.py).
    now = datetime(2026, 3, 14, 17, 30)
    plan = plan_demo(now)
    tomorrow = sensor_snapshot_day(now)
    assert tomorrow == plan.snapshot_day + timedelta(days=1)
    assert not partition_exists(plan.partitions, day_key(tomorrow), now, daily=True)


@pytest.mark.parametrize("clock", ["00:20", "17:30"])
def test_the_sensor_dates_each_simulated_load_by_its_planned_hour(
    clock: str, tmp_path: Path
) -> None:
    plan = plan_demo(datetime.fromisoformat(f"2026-03-14T{clock}"))
    demo = LiveDemo(tmp_path / "unused.duckdb", tmp_path, plan)
    with duckdb.connect() as con:
        for hour in plan.load_hours:
            demo.simulator.write_pageviews_load(con, hour)
            _, _, busiest_hour = con.execute(_PAGEVIEWS_FINGERPRINT).fetchone()
            assert busiest_hour == hour


# A parent that starts a child ignoring SIGTERM in a process group of its own, which starts a
# grandchild; the parent prints the three pids and sleeps.
_TREE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    child = subprocess.Popen(
        [sys.executable, "-c", "import os, signal, subprocess, sys, time\\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
         "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\\n"
         "print(os.getpid(), g.pid, flush=True)\\n"
         "time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, process_group=0,
    )
    print(os.getpid(), child.stdout.readline().strip(), flush=True)
    time.sleep(600)
    """
)


def _pids(log: Path) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if text.endswith("\n"):
            return [int(pid) for pid in text.split()]
        time.sleep(0.05)
    raise AssertionError(f"the process tree never started: {text!r}")


def _kill(pids: list[int]) -> None:
    """Kills what a failing test left behind, so a failure leaks no process."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_leaving_the_session_block_on_an_exception_kills_every_descendant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pageview_platform.live_demo.STOP_GRACE_SECONDS", 1.0)
    log = tmp_path / "tree.log"
    pids: list[int] = []
    try:
        with (
            pytest.raises(KeyboardInterrupt),
            own_session([sys.executable, "-c", _TREE], dict(os.environ), log) as process,
        ):
            pids = _pids(log)
            assert len(pids) == 3
            assert set(pids) <= session_members(process.pid)
            raise KeyboardInterrupt
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        _kill(pids)


def test_sigterm_raises_in_the_demo_and_stops_its_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pageview_platform.live_demo.STOP_GRACE_SECONDS", 1.0)
    log = tmp_path / "tree.log"
    before = signal.getsignal(signal.SIGTERM)
    pids: list[int] = []
    try:
        with (
            pytest.raises(Terminated),
            sigterm_raises(),
            own_session([sys.executable, "-c", _TREE], dict(os.environ), log),
        ):
            pids = _pids(log)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # the handler raises before this ends
        assert signal.getsignal(signal.SIGTERM) is before
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        _kill(pids)
