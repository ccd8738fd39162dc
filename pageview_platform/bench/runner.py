"""Lands every simulated load, ingests it through the production path and the baseline, measures.

For each load, in the order production sees them: the simulator writes the landing table into
the warehouse file (generation, timed apart), `Ingest` takes it through the same Dagster runs
the CLI and the sensors start (its wall time is what is compared), then the baseline copies the
same landing table into its own file and does the same work in plain SQL. After the last load
both sides' BI views are timed and their daily answers compared.
"""

from __future__ import annotations

import os
import platform
import statistics
import time as clock
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import version as package_version
from itertools import islice
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
from dagster import DagsterInstance

from pageview_platform.bench.baseline import Baseline
from pageview_platform.bench.measure import Stage, measured
from pageview_platform.dagster_internals import RunStepKeyStatsSnapshot
from pageview_platform.ingest import Ingest, IngestReport
from pageview_platform.runs import run_launcher
from pageview_platform.settings import Settings, get_settings
from pageview_platform.simulator import Event, SimulationConfig, Simulator
from pageview_platform.warehouse.duckdb import connect

BI_REPEATS = 5
QUESTIONS = ("current_postcode", "postcode_at_view")
VIEW_NAMES = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in QUESTIONS
    for grain in ("hourly", "daily", "monthly")
)
ANSWER_VIEWS = tuple(f"bi.pageviews_by_{question}_daily" for question in QUESTIONS)
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
TOTAL = "total"
# The ingest's time outside any step: run set-up and teardown, event writes, Ingest's planning.
OUTSIDE_STEPS = "Dagster overhead (wall - steps)"


@dataclass(frozen=True)
class LoadResult:
    """One landing load: its generation, and the stages of both sides."""

    kind: str
    key: str
    generation: Stage
    pipeline: list[Stage]
    baseline: list[Stage]
    runs: list[dict[str, Any]]


@dataclass
class BenchResult:
    """Everything a bench run measured, before it is summarised for print and JSON."""

    parameters: dict[str, Any]
    machine: dict[str, Any]
    loads: list[LoadResult] = field(default_factory=list)
    bi_views: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)


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
    """The platform's settings pointed at a scratch warehouse and Dagster instance in WORKDIR.

    The memory limit and threads stay as the caller's environment sets them.
    """
    overrides = {
        "PAGEVIEW_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
        "PAGEVIEW_START_DATE": start_date.isoformat(),
    }
    with mock.patch.dict(os.environ, overrides):
        yield get_settings()


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


def _pipeline_stages(
    instance: DagsterInstance, report: IngestReport, wall: Stage
) -> tuple[list[Stage], list[dict[str, Any]]]:
    """The ingest's wall time, each Dagster step's time (summed over runs), and the rest."""
    steps: dict[str, tuple[float, int | None]] = {}
    parts: dict[str, dict[str, float]] = {}
    stats = [stat for run in report.runs for stat in instance.get_run_step_stats(run.run_id)]
    for stat in sorted(stats, key=lambda s: s.start_time or 0.0):
        seconds = (stat.end_time or 0.0) - (stat.start_time or 0.0)
        rows = _rows_materialized(stat)
        total_seconds, total_rows = steps.get(stat.step_key, (0.0, None))
        if rows is not None:
            total_rows = (total_rows or 0) + rows
        steps[stat.step_key] = (total_seconds + seconds, total_rows)
        step_parts = parts.setdefault(stat.step_key, {})
        for name, part_seconds in _seconds_parts(stat).items():
            step_parts[name] = step_parts.get(name, 0.0) + part_seconds
    in_steps = sum(seconds for seconds, _ in steps.values())
    stages = [wall]
    for key, (seconds, rows) in steps.items():
        stages.append(Stage(f"step {key}", rows, seconds))
        # Parts of a step are inside its time, shown under it and not added to the total.
        stages.extend(Stage(f"  {key}: {name}", None, t) for name, t in parts[key].items())
    stages.append(Stage(OUTSIDE_STEPS, report.captured_rows, wall.seconds - in_steps))
    # Each event is a write to the instance's storage, which is where time outside steps goes.
    runs = [
        {
            "job_name": run.job_name,
            "partitions": run.partitions,
            "run_id": run.run_id,
            "events": len(instance.all_logs(run.run_id)),
        }
        for run in report.runs
    ]
    return stages, runs


def _baseline_total(stages: list[Stage], seconds: float) -> Stage:
    captured = next(stage.rows for stage in stages if stage.name == "capture")
    return Stage(
        TOTAL,
        captured,
        seconds,
        max((s.peak_rss_bytes for s in stages if s.peak_rss_bytes is not None), default=None),
        max((s.peak_duckdb_bytes for s in stages if s.peak_duckdb_bytes is not None), default=None),
    )


class _Bench:
    """The two sides and the simulator, sharing one scratch environment."""

    def __init__(
        self,
        settings: Settings,
        simulator: Simulator,
        ingest: Ingest,
        instance: DagsterInstance,
        baseline: Baseline,
    ) -> None:
        self.settings = settings
        self.simulator = simulator
        self.ingest = ingest
        self.instance = instance
        self.baseline = baseline

    def _warehouse(self) -> duckdb.DuckDBPyConnection:
        settings = self.settings
        return connect(settings.duckdb_path, settings.duckdb_connection_config, settings.start_date)

    def load(self, event: Event) -> LoadResult:
        warehouse = self.settings.duckdb_path
        with measured() as cost, self._warehouse() as con:
            if event.kind == "users":
                generated = self.simulator.write_users_snapshot(con, event.key)
            else:
                generated = self.simulator.write_pageviews_load(con, event.key)
        generation = Stage.of("generation", generated, cost)

        with measured() as cost:
            if event.kind == "users":
                report = self.ingest.users(event.key)
            else:
                report = self.ingest.pageviews(event.key)
        # DuckDB's own memory is not sampled here: a sampling connection would keep the file
        # open between the runs' connections and spare them the opens and checkpoints they pay.
        wall = Stage(TOTAL, report.captured_rows, cost.seconds, cost.peak_rss_bytes)
        pipeline, runs = _pipeline_stages(self.instance, report, wall)

        started = clock.perf_counter()
        if event.kind == "users":
            stages = self.baseline.users(event.key, warehouse)
        else:
            stages = self.baseline.pageviews(event.key, warehouse)
        baseline = [_baseline_total(stages, clock.perf_counter() - started), *stages]

        key = event.key.isoformat() if event.kind == "users" else f"{event.key:%Y-%m-%dT%H}"
        return LoadResult(event.kind, key, generation, pipeline, baseline, runs)


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
    pipeline: Path, baseline: Path, config: dict[str, object], day: date, repeats: int
) -> list[dict[str, Any]]:
    """Median milliseconds of each BI query on each view for one day and one month, both sides."""
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    windows = {"day": (day, day + timedelta(days=1)), "month": (month, next_month)}
    timings = []
    with (
        duckdb.connect(str(pipeline), read_only=True, config=config) as pipeline_con,
        duckdb.connect(str(baseline), read_only=True, config=config) as baseline_con,
    ):
        busiest = pipeline_con.execute(
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
                    pipeline_ms, rows = _median_ms(pipeline_con, statement, params, repeats)
                    baseline_ms, _ = _median_ms(baseline_con, statement, params, repeats)
                    timings.append(
                        {
                            "view": view,
                            "query": query,
                            "window": window,
                            "rows": rows,
                            "pipeline_ms": pipeline_ms,
                            "baseline_ms": baseline_ms,
                        }
                    )
    return timings


def differing_rows(pipeline: Path, baseline: Path, config: dict[str, object]) -> dict[str, int]:
    """For each daily answer, the rows one side has and the other lacks (0 when they agree)."""
    with duckdb.connect(":memory:", config=config) as con:
        con.execute("ATTACH $path AS pipeline (READ_ONLY)", {"path": str(pipeline)})
        con.execute("ATTACH $path AS baseline (READ_ONLY)", {"path": str(baseline)})
        return {
            view: con.execute(
                f"SELECT count(*) FROM ("
                f"(FROM pipeline.{view} EXCEPT ALL FROM baseline.{view})"
                f" UNION ALL (FROM baseline.{view} EXCEPT ALL FROM pipeline.{view}))"
            ).fetchone()[0]
            for view in ANSWER_VIEWS
        }


def first_loads(simulation: SimulationConfig, loads: int | None = None) -> list[Event]:
    """The simulation's loads in production order: the first LOADS of them, or all."""
    return list(islice(Simulator(simulation).events(), loads))


def run_bench(
    simulation: SimulationConfig,
    events: Sequence[Event],
    workdir: Path,
    bi_repeats: int = BI_REPEATS,
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
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            machine=machine_info(settings),
        )
        baseline = Baseline(workdir / "baseline.duckdb", config, settings.start_date)
        # The warehouse's schema is deployed once per process; not part of any load.
        connect(settings.duckdb_path, config, settings.start_date).close()
        with run_launcher(settings.dagster_home) as launcher, DagsterInstance.get() as instance:
            bench = _Bench(settings, simulator, Ingest(settings, launcher), instance, baseline)
            for event in events:
                result.loads.append(bench.load(event))
        last_day = events[-1].key if events[-1].kind == "users" else events[-1].key.date()
        result.bi_views = time_bi_views(
            settings.duckdb_path, baseline.database, config, last_day, bi_repeats
        )
        result.answers = differing_rows(settings.duckdb_path, baseline.database, config)
    return result
