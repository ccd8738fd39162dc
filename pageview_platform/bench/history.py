"""The nightly current-postcode update after N days of history, history synthesized in SQL.

    python -m pageview_platform.bench.history --users 100000 --days 30,90,365

For each N, a fresh scratch warehouse gets N days of history written straight into it by the
SQL in sql/bench/history/ (no loads run): every user listed in every daily snapshot, MOVE_SHARE
of them moving each night, VIEWS_PER_USER views per user a day; the captured copies, capture
logs, postcode versions, fact, both answers' hourly aggregates and rollups and the
current-postcode record as the pipeline would have left them, then the BI database published.
That state is checked against the platform's own check SQL and a recomputation of the six `bi`
views from the fact and the history. Then day N's snapshot (another MOVE_SHARE of movers) lands
and one `pageview-platform ingest-users --date <day N>` process ingests it as production does;
the history step's `seconds_*` metadata says where its time went (docs/performance.md, "What
grows with history"):

- change detection: the step's `write` (validating the snapshot, comparing it with each user's
  version at the window start, inserting the new versions);
- current-postcode update: CURRENT_POSTCODE_UPDATE below, the statements that stage and apply
  the move of the movers' views in the current-postcode answer (`current_delta`, the record in
  `agg.current_postcode_by_user`, the hourly MERGE and its daily and monthly rollups).

Prints a table and writes bench_results/history-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pageview_platform.checks import RECONCILIATION
from pageview_platform.settings import REPO_ROOT, Settings, get_settings
from pageview_platform.warehouse.duckdb import connect
from pageview_platform.warehouse.publish import publish
from pageview_platform.warehouse.session import metrics_row, run_script, transaction
from pageview_platform.warehouse.sql import read_sql

RESULTS = REPO_ROOT / "bench_results"
VIEWS_PER_USER = 5
MOVE_SHARE = 0.015
SEED = 42
# The history step (its Dagster step key) and the parts of its `seconds_*` metadata compared.
HISTORY_STEP = "user_postcode_history"
CHANGE_DETECTION = ("write",)
CURRENT_POSTCODE_UPDATE = (
    "current_postcode_window.create_folded_user_months",
    "current_postcode_window.merge_agg.pageviews_by_user_month",
    "current_postcode_window.create_aged_current_hours",
    "current_postcode_window.delete_agg.pageviews_by_current_postcode_hourly",
    "current_postcode_window.delete_agg.pageviews_by_current_postcode_daily",
    "current_postcode_window.delete_ops.current_postcode_window",
    "current_postcode_window.insert_ops.current_postcode_window",
    "reattribute_pageviews.create_current_moves",
    "reattribute_pageviews.create_current_delta",
    "reattribute_pageviews.create_current_month_delta",
    "reattribute_pageviews.delete_agg.current_postcode_by_user",
    "reattribute_pageviews.insert_agg.current_postcode_by_user",
    "apply_aggregate_deltas.create_current_recent_delta",
    "apply_aggregate_deltas.create_current_daily_delta",
    "apply_aggregate_deltas.merge_agg.pageviews_by_current_postcode_daily",
    "apply_aggregate_deltas.merge_agg.pageviews_by_current_postcode_monthly",
    # The hourly answer, moved by a join that keeps the cells' rows and values for the publish,
    # an update by row and an insert of the new cells (create_hourly_values is the at-view's).
    "merge_hourly_deltas_keeping_values.insert_hourly_values",
    "merge_hourly_deltas_keeping_values.update_agg.pageviews_by_current_postcode_hourly",
    "merge_hourly_deltas_keeping_values.insert_agg.pageviews_by_current_postcode_hourly",
)
# What else the history step's materializations say: the views the re-attribution moved, the
# users recounted, and how the BI database was published (a patch, or a new file).
STEP_METADATA = ("views_moved_current", "views_moved_at_view", "users_recounted", "publish")
# Up to this many fact rows, verification reads everything (the captured copies included);
# above it, the first and last months of the answers and the cheap whole-history checks.
FULL_VERIFICATION_ROWS = 5_000_000
# The platform's own check SQL, run over the verified windows: (file, parameters, the columns
# that count violations). Every pageview of the synthesized history has a known user.
REPO_CHECKS: tuple[tuple[str, Mapping[str, object], tuple[str, ...]], ...] = (
    # The totals the nightly reconciliation compares (aggregates, rollups, both answers).
    *RECONCILIATION,
    (
        "checks/pageview_fact_identity.sql",
        {},
        ("duplicate_identities", "null_key_rows", "missing_postcode_rows", "unknown_postcode_rows"),
    ),
    (
        "checks/user_postcode_history_versions.sql",
        {},
        ("duplicate_versions", "users_with_several_current", "null_key_rows"),
    ),
    ("checks/pageviews_load_in_its_window.sql", {}, ("loads_outside_their_window",)),
)
QUARANTINE_BALANCES = (
    "checks/users_quarantine_balance.sql",
    "checks/pageviews_quarantine_balance.sql",
)


class InconsistentWarehouse(AssertionError):
    """The warehouse breaks a rule the pipeline keeps; the names count the violations."""


@dataclass(frozen=True)
class HistoryShape:
    """What one point of the bench synthesizes: USERS users over DAYS days of history, ending the
    day before LAST_DAY, whose snapshot is then ingested."""

    users: int
    days: int
    last_day: date
    move_share: float = MOVE_SHARE
    views_per_user: int = VIEWS_PER_USER
    seed: int = SEED
    # PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS: the days of current-postcode hours and days kept.
    recent_days: int = 7

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1 or self.views_per_user < 1:
            raise ValueError("users, days and views per user must be at least 1")
        if not 0 <= self.move_share <= 1:
            raise ValueError(f"the move share must be within [0, 1], got {self.move_share}")

    @property
    def start_date(self) -> date:
        """Day 0 of the history: the warehouse's start date."""
        return self.last_day - timedelta(days=self.days)

    @property
    def postcodes(self) -> int:
        """As the simulator spreads users: 20 a postcode (the brief's 20M over 1M), at least 50."""
        return max(50, self.users // 20)

    @property
    def urls(self) -> int:
        return max(100, min(100_000, self.users // 10))

    def params(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "users": self.users,
            "days": self.days,
            "move_share": self.move_share,
            "postcodes": self.postcodes,
            "urls": self.urls,
            "views_per_user": self.views_per_user,
            # Each view's slot of the day, in microseconds.
            "slot": 86_400_000_000 // self.views_per_user,
            "start": _midnight(self.start_date),
            "recent_from": self.recent_from(self.last_day - timedelta(days=1)),
        }

    def recent_from(self, latest_snapshot: date) -> datetime:
        """Where the current-postcode hours and days start once LATEST_SNAPSHOT is history."""
        return _midnight(latest_snapshot - timedelta(days=self.recent_days))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def scratch_environment(workdir: Path, start_date: date) -> dict[str, str]:
    """The variables that point the platform at a scratch warehouse, instance and BI file."""
    return {
        "PAGEVIEW_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
        "PAGEVIEW_START_DATE": start_date.isoformat(),
        "PAGEVIEW_BI_DUCKDB_PATH": str(workdir / "bi.duckdb"),
    }


@contextmanager
def scratch_settings(workdir: Path, start_date: date) -> Iterator[Settings]:
    """The platform's settings for the scratch warehouse in WORKDIR, while the block runs."""
    with mock.patch.dict(os.environ, scratch_environment(workdir, start_date)):
        yield get_settings()


def open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A connection to the scratch warehouse, its schema deployed as every run's is."""
    return connect(settings.duckdb_path, settings.duckdb_connection_config, settings.start_date)


DayCallback = Callable[[int], None]


def synthesize(
    con: duckdb.DuckDBPyConnection, shape: HistoryShape, on_day: DayCallback | None = None
) -> dict[str, int]:
    """Writes SHAPE's history into the warehouse on CON (deployed, empty): the versions of days
    0..N (day N's only in temp tables, for the landing), then day by day what the pipeline
    leaves, then the history and the monthly rollups. Returns the rows of each table written.

    Each statement is set-based SQL; the loop is over days, each day one transaction, as the
    pipeline's own writes come day by day (and so the tables are in the order it leaves them).
    """
    params = shape.params()
    run_script(con, read_sql("bench/history/versions.sql"), params)
    day_sql = read_sql("bench/history/day.sql")
    for day in range(shape.days):
        with transaction(con):
            run_script(
                con,
                day_sql,
                {**params, "day": day, "day_start": _midnight(shape.start_date + timedelta(day))},
            )
        if on_day is not None:
            on_day(day)
    with transaction(con):
        run_script(con, read_sql("bench/history/finish.sql"), params)
    return table_rows(con)


COUNTED_TABLES = (
    "raw.users_extract",
    "raw.pageviews_extract",
    "core.user_postcode_history",
    "core.pageview_fact",
    "agg.pageviews_by_postcode_at_view_hourly",
    "agg.pageviews_by_current_postcode_hourly",
    "agg.pageviews_by_postcode_at_view_daily",
    "agg.pageviews_by_current_postcode_daily",
    "agg.pageviews_by_postcode_at_view_monthly",
    "agg.pageviews_by_current_postcode_monthly",
    "agg.current_postcode_by_user",
    "agg.pageviews_by_user_month",
)


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Each synthesized table's rows (names from COUNTED_TABLES only)."""
    selects = ", ".join(f"(SELECT count(*) FROM {name})" for name in COUNTED_TABLES)
    counts = con.execute(f"SELECT {selects}").fetchone()
    return dict(zip(COUNTED_TABLES, (int(n) for n in counts), strict=True))


def land_snapshot(con: duckdb.DuckDBPyConnection, shape: HistoryShape) -> int:
    """Reloads landing.users_extract with day N's snapshot (versions.sql's temp tables must
    still be there: the same connection); returns the night's movers."""
    with transaction(con):
        run_script(con, read_sql("bench/history/landing.sql"), shape.params())
    (movers,) = con.execute(
        "SELECT count(*) FROM bench_versions WHERE valid_day = $days", {"days": shape.days}
    ).fetchone()
    return int(movers)


def _month(day: date) -> datetime:
    return _midnight(day.replace(day=1))


def _next_month(day: date) -> datetime:
    return _month(day.replace(day=1) + timedelta(days=32))


def verification_windows(first: date, last: date, full: bool) -> list[tuple[datetime, datetime]]:
    """Whole months to verify, from FIRST to LAST (days with views): all of them as one window,
    or the first month and the last."""
    if full or _month(first) == _month(last):
        return [(_month(first), _next_month(last))]
    return [(_month(first), _next_month(first)), (_month(last), _next_month(last))]


def _violations(row: Mapping[str, Any], columns: Sequence[str], prefix: str) -> dict[str, int]:
    return {f"{prefix}.{column}": int(row[column] or 0) for column in columns}


def check_answers(
    con: duckdb.DuckDBPyConnection,
    windows: Sequence[tuple[datetime, datetime]],
    recent_from: datetime,
) -> dict[str, int]:
    """The six `bi` views against a recomputation from the fact and the history, per window;
    the current-postcode hours and days from RECENT_FROM on."""
    found: dict[str, int] = {}
    for start, end in windows:
        window = {"from": start, "to": end, "recent_from": recent_from}
        run_script(con, read_sql("bench/history/expected_views.sql"), window)
        row = metrics_row(con, read_sql("bench/history/compare_answers.sql"), window)
        for name, count in row.items():
            found[f"answers.{name}"] = found.get(f"answers.{name}", 0) + int(count)
        con.execute("DROP TABLE IF EXISTS bench_expected_views")
    return found


def verify(
    con: duckdb.DuckDBPyConnection, first: date, last: date, full: bool, recent_from: datetime
) -> dict[str, int]:
    """Every rule the synthesized (or ingested) warehouse must keep, as violation counts (all 0
    when it is consistent): the platform's checks, the SCD2 rules, the answers against a
    recomputation, both answers' daily totals; with FULL, the captured copies and logs too."""
    windows = verification_windows(first, last, full)
    found: dict[str, int] = {}
    for start, end in windows:
        # The checks' windows are days with data (the monthly rollups' are whole months).
        params = {
            "start": max(start, _midnight(first)),
            "end": min(end, _midnight(last + timedelta(days=1))),
        }
        for script, extra, columns in REPO_CHECKS:
            row = metrics_row(con, read_sql(script), {**params, **extra})
            label = Path(script).stem + "".join(f"[{value}]" for value in extra.values())
            for name, count in _violations(row, columns, label).items():
                found[name] = found.get(name, 0) + count
        for script in QUARANTINE_BALANCES:
            row = metrics_row(con, read_sql(script), params)
            name = f"{Path(script).stem}.unbalanced_rows"
            unbalanced = abs(row["captured"] - row["accepted"] - row["quarantined"])
            found[name] = found.get(name, 0) + int(unbalanced)
    row = metrics_row(con, read_sql("bench/history/verify_versions.sql"), {})
    found.update(_violations(row, [c for c in row if c != "versions"], "versions"))
    row = metrics_row(con, read_sql("bench/history/daily_totals.sql"), {"recent_from": recent_from})
    found.update(_violations(row, list(row), "daily_totals"))
    if full:
        row = metrics_row(con, read_sql("bench/history/verify_captures.sql"), {})
        found.update(_violations(row, list(row), "captures"))
    found.update(check_answers(con, windows, recent_from))
    return found


def require_consistent(found: Mapping[str, int], what: str) -> None:
    broken = {name: count for name, count in found.items() if count}
    if broken:
        raise InconsistentWarehouse(f"{what}: {broken}")


def ingest_command() -> list[str]:
    """The CLI production runs, from this interpreter's environment."""
    script = Path(sys.executable).with_name("pageview-platform")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pageview_platform"]


def ingest_users(environment: Mapping[str, str], day: date) -> tuple[float, str]:
    """Runs `pageview-platform ingest-users --date DAY` in its own process with ENVIRONMENT
    added to this one's; returns its wall seconds and its output. Raises if it fails."""
    started = clock.perf_counter()
    done = subprocess.run(
        [*ingest_command(), "ingest-users", "--date", day.isoformat()],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = clock.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"ingest-users --date {day} exited {done.returncode}: {done.stderr or done.stdout}"
        )
    return seconds, done.stdout


@dataclass
class HistoryStep:
    """The history step of the ingest's runs: its seconds, its `seconds_*` parts and the
    history materialization's other numbers (versions started, users moved...)."""

    seconds: float
    parts: dict[str, float]
    metadata: dict[str, Any]
    steps: dict[str, float] = field(default_factory=dict)


def history_step(environment: Mapping[str, str]) -> HistoryStep:
    """Reads the history step of every run in the scratch Dagster instance ENVIRONMENT names."""
    from dagster import DagsterInstance

    from pageview_platform.bench.runner import _seconds_parts

    with mock.patch.dict(os.environ, dict(environment)), DagsterInstance.get() as instance:
        stats = [
            stat for run in instance.get_runs() for stat in instance.get_run_step_stats(run.run_id)
        ]
    steps: dict[str, float] = {}
    for stat in stats:
        seconds = (stat.end_time or 0.0) - (stat.start_time or 0.0)
        steps[stat.step_key] = steps.get(stat.step_key, 0.0) + seconds
    history = [stat for stat in stats if stat.step_key == HISTORY_STEP]
    if len(history) != 1:
        raise RuntimeError(f"expected one {HISTORY_STEP} step, found {len(history)}")
    [stat] = history
    metadata: dict[str, Any] = {}
    for entry in stat.materialization_events:
        materialization = entry.asset_materialization
        is_history = materialization.asset_key.path == ["core", "user_postcode_history"]
        for key, value in materialization.metadata.items():
            if key in STEP_METADATA or (
                is_history
                and not key.startswith(("seconds_", "dagster/"))
                and isinstance(value.value, int | float)
            ):
                metadata[key] = value.value
    return HistoryStep(steps[HISTORY_STEP], _seconds_parts(stat), metadata, steps)


def _sum_parts(parts: Mapping[str, float], names: Sequence[str]) -> float:
    return sum(parts.get(name, 0.0) for name in names)


@dataclass
class HistoryPoint:
    """One N: what was synthesized, what the ingest of day N cost, and the checks both passed."""

    days: int
    users: int
    move_share: float
    start_date: str
    ingested_day: str
    synthesis_seconds: float
    publish_seconds: float
    rows: dict[str, int]
    movers: int
    verification: str
    ingest_wall_seconds: float
    history_step_seconds: float
    change_detection_seconds: float
    current_postcode_update_seconds: float
    ratio: float
    parts: dict[str, float]
    history_metadata: dict[str, Any]
    steps: dict[str, float]
    violations_after_synthesis: dict[str, int]
    violations_after_ingest: dict[str, int]


class _Reporter:
    """Rich progress for one N: a bar over the days, a spinner for each later phase, and a
    line logged as each phase ends."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, label: str, total: int | None) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task(label, total=total)

    def advance(self) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task)

    def done(self, message: str) -> None:
        if self.progress is not None:
            if self.task is not None:
                self.progress.update(self.task, visible=False)
                self.task = None
            self.progress.console.log(message)


def run_point(
    shape: HistoryShape,
    workdir: Path,
    progress: Progress | None = None,
    full_verification: bool | None = None,
) -> HistoryPoint:
    """Synthesizes SHAPE's history in WORKDIR (a fresh folder), verifies it, lands and ingests
    day N's snapshot in a CLI process, verifies again and reads the history step's times."""
    report = _Reporter(progress)
    label = f"{shape.days} days"
    environment = {
        **scratch_environment(workdir, shape.start_date),
        "PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS": str(shape.recent_days),
    }
    with scratch_settings(workdir, shape.start_date) as settings:
        con = open_warehouse(settings)
        try:
            report.start(f"{label}: synthesizing the days of history", shape.days)
            started = clock.perf_counter()
            rows = synthesize(con, shape, lambda _: report.advance())
            synthesis_seconds = clock.perf_counter() - started
            report.done(
                f"{label}: synthesized {rows['core.pageview_fact']:,} views,"
                f" {rows['core.user_postcode_history']:,} versions of {shape.users:,} users"
                f" in {synthesis_seconds:.1f} s"
            )
            report.start(f"{label}: publishing the BI database", None)
            published = publish(con, settings.bi_duckdb_path)
            report.done(f"{label}: published {published.how} in {published.seconds:.1f} s")
            full = (
                rows["core.pageview_fact"] <= FULL_VERIFICATION_ROWS
                if full_verification is None
                else full_verification
            )
            last = shape.last_day - timedelta(days=1)
            report.start(f"{label}: verifying the synthesized warehouse", None)
            before = verify(con, shape.start_date, last, full, shape.recent_from(last))
            require_consistent(before, f"the synthesized history of {shape.days} days")
            report.done(f"{label}: consistent ({'in full' if full else 'first and last months'})")
            movers = land_snapshot(con, shape)
        finally:
            con.close()
        report.start(f"{label}: ingest-users --date {shape.last_day} ({movers:,} movers)", None)
        wall, _ = ingest_users(environment, shape.last_day)
        step = history_step(environment)
        report.done(f"{label}: ingested day {shape.last_day} in {wall:.1f} s")
        report.start(f"{label}: verifying the answers after the ingest", None)
        with open_warehouse(settings) as con:
            after = verify(con, shape.start_date, last, full, shape.recent_from(shape.last_day))
        require_consistent(after, f"the answers after ingesting {shape.last_day}")
        moved = int(step.metadata.get("moved_users", -1))
        if moved != movers:
            raise InconsistentWarehouse(f"the ingest moved {moved} users, the snapshot {movers}")
        report.done(f"{label}: still consistent")
    change = _sum_parts(step.parts, CHANGE_DETECTION)
    update = _sum_parts(step.parts, CURRENT_POSTCODE_UPDATE)
    return HistoryPoint(
        days=shape.days,
        users=shape.users,
        move_share=shape.move_share,
        start_date=shape.start_date.isoformat(),
        ingested_day=shape.last_day.isoformat(),
        synthesis_seconds=round(synthesis_seconds, 3),
        publish_seconds=round(published.seconds, 3),
        rows=rows,
        movers=movers,
        verification="full" if full else "first and last months",
        ingest_wall_seconds=round(wall, 3),
        history_step_seconds=round(step.seconds, 3),
        change_detection_seconds=round(change, 3),
        current_postcode_update_seconds=round(update, 3),
        ratio=round(update / change, 3) if change else float("nan"),
        parts=step.parts,
        history_metadata=step.metadata,
        steps={key: round(seconds, 3) for key, seconds in step.steps.items()},
        violations_after_synthesis=before,
        violations_after_ingest=after,
    )


def render(points: Sequence[HistoryPoint], recent_days: int) -> Table:
    table = Table(
        title="Nightly current-postcode update after N days of history"
        f" (current-postcode hours and days kept: {recent_days})"
    )
    for heading in (
        "days of history",
        "fact rows",
        "history rows",
        "movers",
        "change detection (s)",
        "current-postcode update (s)",
        "ratio",
        "history step (s)",
        "ingest process (s)",
    ):
        table.add_column(heading, justify="right")
    for point in points:
        table.add_row(
            str(point.days),
            f"{point.rows['core.pageview_fact']:,}",
            f"{point.rows['core.user_postcode_history']:,}",
            f"{point.movers:,}",
            f"{point.change_detection_seconds:.2f}",
            f"{point.current_postcode_update_seconds:.2f}",
            f"{point.ratio:.2f}x",
            f"{point.history_step_seconds:.2f}",
            f"{point.ingest_wall_seconds:.2f}",
        )
    return table


def write_json(points: Sequence[HistoryPoint], parameters: dict[str, Any], folder: Path) -> Path:
    from pageview_platform.bench.runner import machine_info

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"history-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    summary = {
        "parameters": parameters,
        "machine": machine_info(get_settings()),
        "change_detection_parts": list(CHANGE_DETECTION),
        "current_postcode_update_parts": list(CURRENT_POSTCODE_UPDATE),
        "points": [asdict(point) for point in points],
    }
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _day_list(text: str) -> list[int]:
    try:
        days = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"days must be whole numbers, got {text!r}") from err
    if not days or min(days) < 1:
        raise argparse.ArgumentTypeError(f"days must be at least 1, got {text!r}")
    return days


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=_day_list, default=[30, 90, 365], help="e.g. 30,90,365")
    parser.add_argument("--move-share", type=float, default=MOVE_SHARE)
    parser.add_argument("--views-per-user", type=int, default=VIEWS_PER_USER)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--recent-days", type=int, default=Settings.current_postcode_recent_days,
        help="PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS: the days of current-postcode hours and"
        " days kept (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="where the scratch folders go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON")
    verification = parser.add_mutually_exclusive_group()
    verification.add_argument(
        "--full-verification", dest="full", action="store_true", default=None,
        help="verify every period and the captured copies (default: up to"
        f" {FULL_VERIFICATION_ROWS:,} fact rows)",
    )  # fmt: skip
    verification.add_argument(
        "--sample-verification", dest="full", action="store_false",
        help="verify the first and last months only",
    )  # fmt: skip
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    # The snapshot ingested is yesterday's (UTC), so every partition it needs exists.
    last_day = datetime.now(UTC).date() - timedelta(days=1)
    # Piped to a file, rich would wrap the table at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    points = []
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for days in args.days:
            shape = HistoryShape(
                users=args.users,
                days=days,
                last_day=last_day,
                move_share=args.move_share,
                views_per_user=args.views_per_user,
                seed=args.seed,
                recent_days=args.recent_days,
            )
            workdir = Path(tempfile.mkdtemp(prefix=f"pageview-history-{days}-", dir=args.workdir))
            try:
                points.append(run_point(shape, workdir, progress, args.full))
            finally:
                if args.keep:
                    progress.console.log(f"kept {workdir}")
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
    console.print(render(points, args.recent_days))
    parameters = {
        "users": args.users,
        "days": args.days,
        "move_share": args.move_share,
        "views_per_user": args.views_per_user,
        "seed": args.seed,
        "recent_days": args.recent_days,
        "started_at": started_at,
    }
    path = write_json(points, parameters, args.out)
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
