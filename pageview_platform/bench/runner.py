"""Lands every simulated load, runs it the way production runs it and through the floor, measures.

For each load, in the order production sees them: the simulator writes the landing table into
the scratch warehouse (generation, timed apart, in no total); production takes it as it runs in
production, one `pageview-platform ingest-users` / `ingest-pageviews` process per load, whose
wall time and peak RSS (the kernel's rusage of that child) are what is compared, its steps read
from the scratch Dagster instance afterwards; then the floor (`floor.py`) takes the same landing
table in a process of its own, into its own file, measured the same way (and the algorithmic
baseline, when asked for). After the last load the BI views are timed on both sides and the six
answers compared row for row.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import time as clock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import version as package_version
from itertools import islice
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
from dagster import DagsterInstance, DagsterRun

from pageview_platform.bench.floor import ALGORITHMIC, FLOOR, open_side
from pageview_platform.bench.measure import ProcessRun, Stage, measured, run_process
from pageview_platform.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    RunStepKeyStatsSnapshot,
)
from pageview_platform.runs import ensure_dagster_home
from pageview_platform.settings import Settings, get_settings
from pageview_platform.simulator import Event, SimulationConfig, Simulator
from pageview_platform.warehouse.duckdb import connect

PRODUCTION = "production"
BI_REPEATS = 5
QUESTIONS = ("current_postcode", "postcode_at_view")
VIEW_NAMES = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in QUESTIONS
    for grain in ("hourly", "daily", "monthly")
)
# What a BI tool asks of a view for a window (one day, one month), answered in the warehouse:
# the window's whole answer (aggregated in the engine, so the client's transfer of a million
# rows is not what is timed), its top postcodes, and one postcode's series.
BI_QUERIES = {
    "answer": "SELECT count(*), sum(pageviews) FROM {view}"
    " WHERE period_start >= $start AND period_start < $end",
    "top 20": "SELECT period_start, postcode, pageviews FROM {view}"
    " WHERE period_start >= $start AND period_start < $end"
    " ORDER BY pageviews DESC, postcode, period_start LIMIT 20",
    "one postcode": "SELECT period_start, pageviews FROM {view}"
    " WHERE postcode = $postcode AND period_start >= $start AND period_start < $end"
    " ORDER BY period_start",
}
# The postcode the one-postcode query asks for: the busiest of the last day, so it has rows.
_BUSIEST_POSTCODE = """
SELECT postcode FROM agg.pageviews_by_postcode_at_view_daily
WHERE pageview_day = $start ORDER BY pageviews DESC, postcode LIMIT 1
"""
# Standard Dagster metadata keys: a materialization's rows, for a partition or a whole table.
_ROW_COUNT_KEYS = ("dagster/partition_row_count", "dagster/row_count")
# What the CLI prints of an ingest: "<load>: captured N rows, quarantined M".
_CAPTURED = re.compile(r": captured (\d+) rows")
# And its checkpoint of the warehouse after the runs: "  warehouse checkpoint 0.91 s".
_CHECKPOINT = re.compile(r"^  warehouse checkpoint (\d+(?:\.\d+)?) s$", re.MULTILINE)
# Production's checkpoint after its runs (the writes moved from the write-ahead log into the
# file, which the floor's commit does), its time outside that and its runs' steps, and the
# floor's outside its stages.
CHECKPOINT = "warehouse checkpoint after the runs"
OUTSIDE_STEPS = "outside steps (process start, imports, instance, run creation, events)"
OUTSIDE_STAGES = "outside stages (process start, imports)"
# The runs one ingest may start: one, or two for a back-dated snapshot.
_RUNS_PER_INGEST = 10


class BenchFailed(RuntimeError):
    """A side's process failed on a load: the bench stops, naming it and its stderr's tail."""


@dataclass(frozen=True)
class SideRun:
    """One side's process for one load: wall seconds, peak RSS, and where its time went."""

    seconds: float
    peak_rss_bytes: int
    stages: list[Stage]


@dataclass(frozen=True)
class LoadResult:
    """One landing load: its generation, its captured rows, and each side's process."""

    kind: str
    key: str
    rows: int
    generation: Stage
    sides: dict[str, SideRun]
    runs: list[dict[str, Any]]


@dataclass
class BenchResult:
    """Everything a bench run measured, before it is summarised for print and JSON."""

    parameters: dict[str, Any]
    machine: dict[str, Any]
    loads: list[LoadResult] = field(default_factory=list)
    bi_views: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, dict[str, int]] = field(default_factory=dict)


def _memory_bytes() -> int | None:
    """The machine's physical memory, where /proc/meminfo tells it."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def machine_info(settings: Settings) -> dict[str, Any]:
    """Where the numbers come from: the machine, the versions, DuckDB's budget."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dagster": package_version("dagster"),
        "duckdb_memory_limit": settings.duckdb_memory_limit,
        "duckdb_threads": settings.duckdb_threads,
    }


@contextmanager
def _scratch_environment(workdir: Path, start_date: date) -> Iterator[Settings]:
    """The platform's settings pointed at a scratch warehouse, BI database and Dagster instance
    in WORKDIR; the production processes inherit them. The memory limit and threads stay as the
    caller's environment sets them."""
    overrides = {
        "PAGEVIEW_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
        "PAGEVIEW_BI_DUCKDB_PATH": str(workdir / "bi.duckdb"),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
        "PAGEVIEW_START_DATE": start_date.isoformat(),
    }
    with mock.patch.dict(os.environ, overrides):
        yield get_settings()


def _production_command() -> list[str]:
    """The CLI production runs: the venv's `pageview-platform`, else the module."""
    script = Path(sys.executable).with_name("pageview-platform")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pageview_platform"]


def _rows_materialized(stat: RunStepKeyStatsSnapshot) -> int | None:
    """The rows a step's materializations wrote; None for a step that materializes nothing."""
    if not stat.materialization_events:
        return None
    # A run over a range of partitions records one materialization per partition, each with the
    # metadata of the whole write: count each asset once.
    per_asset: dict[str, int] = {}
    for entry in stat.materialization_events:
        materialization = entry.asset_materialization
        metadata = materialization.metadata
        for key in _ROW_COUNT_KEYS:
            if key in metadata:
                per_asset[materialization.asset_key.to_user_string()] = int(metadata[key].value)
                break
    return sum(per_asset.values())


def _seconds_parts(stat: RunStepKeyStatsSnapshot) -> dict[str, float]:
    """The `seconds_<part>` metadata of a step's materializations: where its time went."""
    parts: dict[str, float] = {}
    seen: set[str] = set()
    for entry in stat.materialization_events:
        materialization = entry.asset_materialization
        asset = materialization.asset_key.to_user_string()
        if asset in seen:
            continue
        seen.add(asset)
        for key, value in materialization.metadata.items():
            if key.startswith("seconds_"):
                parts[key.removeprefix("seconds_")] = float(value.value)
    return parts


def _partitions(run: DagsterRun) -> str:
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"{tags[ASSET_PARTITION_RANGE_START_TAG]}...{tags[ASSET_PARTITION_RANGE_END_TAG]}"
    return "unpartitioned"


def _pipeline_stages(
    instance: DagsterInstance, runs: Sequence[DagsterRun], process: ProcessRun, rows: int
) -> tuple[list[Stage], list[dict[str, Any]]]:
    """Each Dagster step's time (summed over the process's runs) and its parts, the warehouse's
    checkpoint after the runs, then the rest of the process's wall time: start, imports, the
    instance, run creation, events."""
    steps: dict[str, tuple[float, int | None]] = {}
    parts: dict[str, dict[str, float]] = {}
    stats = [stat for run in runs for stat in instance.get_run_step_stats(run.run_id)]
    for stat in sorted(stats, key=lambda s: s.start_time or 0.0):
        seconds = (stat.end_time or 0.0) - (stat.start_time or 0.0)
        step_rows = _rows_materialized(stat)
        total_seconds, total_rows = steps.get(stat.step_key, (0.0, None))
        if step_rows is not None:
            total_rows = (total_rows or 0) + step_rows
        steps[stat.step_key] = (total_seconds + seconds, total_rows)
        step_parts = parts.setdefault(stat.step_key, {})
        for name, part_seconds in _seconds_parts(stat).items():
            step_parts[name] = step_parts.get(name, 0.0) + part_seconds
    in_steps = sum(seconds for seconds, _ in steps.values())
    stages = []
    for key, (seconds, step_rows) in steps.items():
        stages.append(Stage(f"step {key}", step_rows, seconds))
        # Parts of a step are inside its time, shown under it and not added to the total.
        stages.extend(Stage(f"  {key}: {name}", None, t) for name, t in parts[key].items())
    checkpointed = _CHECKPOINT.search(process.stdout)
    checkpoint = float(checkpointed.group(1)) if checkpointed else 0.0
    if checkpointed:
        stages.append(Stage(CHECKPOINT, None, checkpoint))
    stages.append(Stage(OUTSIDE_STEPS, rows, process.seconds - in_steps - checkpoint))
    # Each event is a write to the instance's storage, which is where time outside steps goes.
    described = [
        {
            "job_name": run.job_name,
            "partitions": _partitions(run),
            "run_id": run.run_id,
            "events": len(instance.all_logs(run.run_id)),
        }
        for run in runs
    ]
    return stages, described


def _checked(side: str, argv: Sequence[str], process: ProcessRun, folder: Path) -> ProcessRun:
    """PROCESS, if it succeeded; else BenchFailed with the end of its stderr (all of it is left
    in FOLDER, which the bench keeps when it fails)."""
    if process.returncode != 0:
        raise BenchFailed(
            f"{side}: `{' '.join(argv)}` exited {process.returncode}; the end of its stderr"
            f" (all of it: {folder / 'process.stderr'}):\n{process.stderr_tail()}"
        )
    return process


class _Bench:
    """The sides and the simulator, sharing one scratch environment."""

    def __init__(
        self,
        settings: Settings,
        simulator: Simulator,
        instance: DagsterInstance,
        yardsticks: dict[str, Path],
        workdir: Path,
    ) -> None:
        self.settings = settings
        self.simulator = simulator
        self.instance = instance
        self.yardsticks = yardsticks
        self.workdir = workdir
        # The environment in force now: the scratch paths, the caller's memory limit and threads.
        self.env = dict(os.environ)
        self.seen_runs = {run.run_id for run in instance.get_runs()}

    def generate(self, event: Event) -> Stage:
        settings = self.settings
        with (
            measured() as cost,
            connect(
                settings.duckdb_path, settings.duckdb_connection_config, settings.start_date
            ) as con,
        ):
            if event.kind == "users":
                generated = self.simulator.write_users_snapshot(con, event.key)
            else:
                generated = self.simulator.write_pageviews_load(con, event.key)
        return Stage.of("generation", generated, cost)

    def production(self, event: Event) -> tuple[SideRun, int, list[dict[str, Any]]]:
        if event.kind == "users":
            argv = [*_production_command(), "ingest-users", "--date", event.key.isoformat()]
        else:
            argv = [*_production_command(), "ingest-pageviews", "--hour", _key(event)]
        process = _checked(
            PRODUCTION, argv, run_process(argv, self.env, self.workdir), self.workdir
        )
        captured = _CAPTURED.search(process.stdout)
        if captured is None:
            raise BenchFailed(f"{PRODUCTION}: no captured rows in its output: {process.stdout!r}")
        rows = int(captured.group(1))
        runs = [
            run
            for run in reversed(self.instance.get_runs(limit=_RUNS_PER_INGEST))
            if run.run_id not in self.seen_runs
        ]
        self.seen_runs.update(run.run_id for run in runs)
        stages, described = _pipeline_stages(self.instance, runs, process, rows)
        return SideRun(process.seconds, process.peak_rss_bytes, stages), rows, described

    def yardstick(self, side: str, event: Event) -> SideRun:
        settings = self.settings
        argv = [
            sys.executable,
            "-m",
            "pageview_platform.bench.floor",
            event.kind,
            "--date" if event.kind == "users" else "--hour",
            _key(event),
            "--database",
            str(self.yardsticks[side]),
            "--warehouse",
            str(settings.duckdb_path),
            "--start-date",
            settings.start_date.isoformat(),
            *(
                f"--config={key}={value}"
                for key, value in settings.duckdb_connection_config.items()
            ),
        ]
        if side == ALGORITHMIC:
            argv.append("--algorithmic")
        process = _checked(side, argv, run_process(argv, self.env, self.workdir), self.workdir)
        stages = [Stage(**stage) for stage in json.loads(process.stdout)["stages"]]
        outside = process.seconds - sum(stage.seconds for stage in stages)
        stages.append(Stage(OUTSIDE_STAGES, stages[0].rows, outside))
        return SideRun(process.seconds, process.peak_rss_bytes, stages)


def _key(event: Event) -> str:
    return event.key.isoformat() if event.kind == "users" else f"{event.key:%Y-%m-%dT%H}"


def _median_ms(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], repeats: int
) -> tuple[float, int]:
    """The query's median time in milliseconds over REPEATS runs, and the rows it returns."""
    timings = []
    rows = 0
    for _ in range(repeats):
        started = clock.perf_counter()
        rows = len(con.execute(sql, params).fetchall())
        timings.append((clock.perf_counter() - started) * 1000)
    return statistics.median(timings), rows


def time_bi_views(
    production: Path, floor: Path, config: dict[str, object], day: date, repeats: int
) -> list[dict[str, Any]]:
    """Median milliseconds of each BI query on each view for one day and one month, both sides."""
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    windows = {"day": (day, day + timedelta(days=1)), "month": (month, next_month)}
    timings = []
    with (
        duckdb.connect(str(production), read_only=True, config=config) as production_con,
        duckdb.connect(str(floor), read_only=True, config=config) as floor_con,
    ):
        busiest = production_con.execute(
            _BUSIEST_POSTCODE, {"start": datetime.combine(day, time())}
        ).fetchone()
        postcode = busiest[0] if busiest else ""
        for view in VIEW_NAMES:
            for query, sql in BI_QUERIES.items():
                for window, (start, end) in windows.items():
                    params: dict[str, object] = {
                        "start": datetime.combine(start, time()),
                        "end": datetime.combine(end, time()),
                    }
                    if query == "one postcode":
                        params["postcode"] = postcode
                    statement = sql.format(view=view)
                    production_ms, rows = _median_ms(production_con, statement, params, repeats)
                    floor_ms, _ = _median_ms(floor_con, statement, params, repeats)
                    timings.append(
                        {
                            "view": view,
                            "query": query,
                            "window": window,
                            "rows": rows,
                            "production_ms": production_ms,
                            "floor_ms": floor_ms,
                        }
                    )
    return timings


# The answers production keeps from its current-postcode window's start only (README, "The two
# questions"): compared from there; a bench of more days than the window shows no older ones.
WINDOWED_VIEWS = (
    "bi.pageviews_by_current_postcode_hourly",
    "bi.pageviews_by_current_postcode_daily",
)


def differing_rows(production: Path, other: Path, config: dict[str, object]) -> dict[str, int]:
    """For each of the six answers, the rows one side has and the other lacks (0: they agree)."""
    with duckdb.connect(":memory:", config=config) as con:
        con.execute("ATTACH $path AS production (READ_ONLY)", {"path": str(production)})
        con.execute("ATTACH $path AS other (READ_ONLY)", {"path": str(other)})
        (recent_from,) = con.execute(
            "SELECT coalesce(max(recent_from), TIMESTAMP '1900-01-01')"
            " FROM production.ops.current_postcode_window"
        ).fetchone()
        differing = {}
        for view in VIEW_NAMES:
            where = "WHERE period_start >= $recent_from" if view in WINDOWED_VIEWS else ""
            sides = {
                side: f"(SELECT * FROM {side}.{view} {where})" for side in ("production", "other")
            }
            differing[view] = con.execute(
                f"SELECT count(*) FROM ("
                f"(FROM {sides['production']} EXCEPT ALL FROM {sides['other']})"
                f" UNION ALL (FROM {sides['other']} EXCEPT ALL FROM {sides['production']}))",
                {"recent_from": recent_from} if where else {},
            ).fetchone()[0]
        return differing


def first_loads(simulation: SimulationConfig, loads: int | None = None) -> list[Event]:
    """The simulation's loads in production order: the first LOADS of them, or all."""
    return list(islice(Simulator(simulation).events(), loads))


# Told of each load's phase as it starts (its index, the event, the phase), then of its result.
PhaseListener = Callable[[int, Event, str], None]
LoadListener = Callable[[int, LoadResult], None]


def run_bench(
    simulation: SimulationConfig,
    events: Sequence[Event],
    workdir: Path,
    bi_repeats: int = BI_REPEATS,
    algorithmic: bool = False,
    on_phase: PhaseListener | None = None,
    on_load: LoadListener | None = None,
) -> BenchResult:
    """Lands, ingests and measures EVENTS (loads of SIMULATION) in WORKDIR, a fresh folder."""
    simulator = Simulator(simulation)
    with _scratch_environment(workdir, simulation.start_date) as settings:
        config = settings.duckdb_connection_config
        result = BenchResult(
            parameters={
                "seed": simulation.seed,
                "users": simulation.users,
                "pageviews_per_day": simulation.pageviews_per_day,
                "days": simulation.days,
                "move_share": simulation.move_share,
                "start_date": simulation.start_date.isoformat(),
                "loads": len(events),
                "bi_repeats": bi_repeats,
                "algorithmic": algorithmic,
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            machine=machine_info(settings),
        )
        yardsticks = {FLOOR: workdir / "floor.duckdb"}
        if algorithmic:
            yardsticks[ALGORITHMIC] = workdir / "baseline.duckdb"
        for side, database in yardsticks.items():
            open_side(side, database, config, settings.start_date).create()
        # The warehouse's schema and the instance's storage are made once, before any load.
        connect(settings.duckdb_path, config, settings.start_date).close()
        ensure_dagster_home(settings.dagster_home)
        with DagsterInstance.get() as instance:
            instance.event_log_storage.get_maximum_record_id()
            bench = _Bench(settings, simulator, instance, yardsticks, workdir)
            for index, event in enumerate(events):
                load = _one_load(bench, index, event, on_phase)
                result.loads.append(load)
                if on_load is not None:
                    on_load(index, load)
        last_day = events[-1].key if events[-1].kind == "users" else events[-1].key.date()
        floor = yardsticks[FLOOR]
        result.bi_views = time_bi_views(settings.duckdb_path, floor, config, last_day, bi_repeats)
        result.answers = {
            side: differing_rows(settings.duckdb_path, database, config)
            for side, database in yardsticks.items()
        }
    return result


def _one_load(
    bench: _Bench, index: int, event: Event, on_phase: PhaseListener | None
) -> LoadResult:
    def phase(name: str) -> None:
        if on_phase is not None:
            on_phase(index, event, name)

    phase("generation")
    generation = bench.generate(event)
    phase(PRODUCTION)
    production, rows, runs = bench.production(event)
    sides = {PRODUCTION: production}
    for side in bench.yardsticks:
        phase(side)
        sides[side] = bench.yardstick(side, event)
    return LoadResult(event.kind, _key(event), rows, generation, sides, runs)
