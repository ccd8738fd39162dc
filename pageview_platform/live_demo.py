"""The platform running itself: the daemon captures and processes loads nobody ingests by hand.

Starts `dagster dev` on a scratch warehouse and instance, then plays the extract process:
lands a users snapshot and hourly pageviews loads, waits for the sensors to take each through
the graph, and finally lands a snapshot a third smaller, which must be blocked and alerted
while the postcode history stays as it was. Run with `make live-demo`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from pageview_platform.settings import REPO_ROOT
from pageview_platform.simulator import SimulationConfig, Simulator

LIVE_DIR = REPO_ROOT / "data" / "live"
WAIT_SECONDS = 300
POLL_SECONDS = 5


class LiveDemo:
    """The extract process's side of the demo, against the file the daemon works on."""

    def __init__(self, database: Path, today: date) -> None:
        self.database = database
        self.today = today
        self.simulator = Simulator(
            SimulationConfig(seed=7, users=200, pageviews_per_day=2400, start_date=today, days=1)
        )

    def _retry(self, action: Callable[[], object]) -> object:
        # The daemon's runs and sensors hold the file now and then; the extract waits its turn.
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                return action()
            except duckdb.IOException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def land(self, write: Callable[[duckdb.DuckDBPyConnection], object], what: str) -> None:
        def go() -> object:
            with duckdb.connect(str(self.database)) as con:
                return write(con)

        self._retry(go)
        _say(f"landed {what}")

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        def go() -> list[tuple]:
            with duckdb.connect(str(self.database), read_only=True) as con:
                return con.execute(sql, params or []).fetchall()

        return self._retry(go)  # type: ignore[return-value]

    def wait_until(self, sql: str, what: str, params: list[object] | None = None) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                if self.query(sql, params) == [(True,)]:
                    _say(f"done: {what}")
                    return
            except duckdb.CatalogException:
                pass
            time.sleep(POLL_SECONDS)
        raise SystemExit(f"live demo: timed out waiting until {what}")


def _say(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S}  {message}", flush=True)


def main() -> int:
    """Runs the live demo; exit 0 when every step happened without a command."""
    now = datetime.now(UTC).replace(tzinfo=None)
    today = (now + timedelta(hours=12)).date()  # the date the users sensor gives a snapshot
    # Loads for hours already past today; at least two.
    hours = [datetime.combine(today, datetime.min.time()) + timedelta(hours=h) for h in (1, 2)]
    shutil.rmtree(LIVE_DIR, ignore_errors=True)
    LIVE_DIR.mkdir(parents=True)
    env = {
        **os.environ,
        "PAGEVIEW_DUCKDB_PATH": str(LIVE_DIR / "warehouse.duckdb"),
        "DAGSTER_HOME": str(LIVE_DIR / "dagster_home"),
        "PAGEVIEW_START_DATE": (today - timedelta(days=1)).isoformat(),
        "PAGEVIEW_MAX_SNAPSHOT_SHRINK": "0.10",
    }
    demo = LiveDemo(LIVE_DIR / "warehouse.duckdb", today)
    cli = [sys.executable, "-m", "pageview_platform"]

    # Yesterday's snapshot, ingested by hand before the daemon starts: the baseline.
    demo.land(lambda con: demo.simulator.write_users_snapshot(con, today), "yesterday's users")
    yesterday = (today - timedelta(days=1)).isoformat()
    subprocess.run([*cli, "ingest-users", "--date", yesterday], env=env, check=True)

    log = (LIVE_DIR / "dagster.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", "3077"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _say(
            "dagster dev started (UI on http://localhost:3077); waiting for the first sensor ticks"
        )
        time.sleep(75)
        for hour in hours:
            demo.land(
                lambda con, hour=hour: demo.simulator.write_pageviews_load(con, hour),
                f"pageviews load {hour:%Y-%m-%dT%H}",
            )
            demo.wait_until(
                "SELECT count(*) > 0 FROM agg.pageviews_by_current_postcode_hourly"
                " WHERE pageview_hour = $1",
                f"load {hour:%H}:00 captured and attributed",
                [hour],
            )
        before = demo.query("SELECT * FROM core.user_postcode_history ORDER BY ALL")

        def shrunken(con: duckdb.DuckDBPyConnection) -> None:
            demo.simulator.write_users_snapshot(con, today)
            con.execute("DELETE FROM landing.users_extract WHERE id % 3 = 0")

        demo.land(shrunken, "today's users snapshot with a third of the users missing")
        demo.wait_until(
            "SELECT count(*) > 0 FROM ops.alerts WHERE subject LIKE '%snapshot_not_shrunk%'",
            "the shrunken snapshot was blocked and alerted",
        )
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
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
