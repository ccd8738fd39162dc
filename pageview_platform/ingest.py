"""The CLI's ingest: starts the runs the planner gives for one landing load and reports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from time import perf_counter

import duckdb
from dagster import AssetKey

from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT, RAW_USERS_EXTRACT
from pageview_platform.assets.landing_guard import CONFIRM_FIELD, landing_fingerprint
from pageview_platform.planner import HeldUsersSnapshot, Load, PageviewsLoad, UsersSnapshot, plan
from pageview_platform.runs import RunLauncher, RunOutcome
from pageview_platform.settings import Settings
from pageview_platform.warehouse.contract import (
    PAGEVIEWS_LANDING,
    USERS_LANDING,
    LandingSchemaDrift,
    LandingTableMissing,
)
from pageview_platform.warehouse.resources import open_connection
from pageview_platform.warehouse.session import Connection, execute


class WarehouseNotReady(RuntimeError):
    """The warehouse, or the landing table an ingest reads, does not exist: nothing ran."""


def require_warehouse(settings: Settings) -> None:
    """Refuses to ingest into a DuckDB file that does not exist yet.

    Connecting would create an empty one: an ingest started against the wrong path would
    capture nothing, report success and record the run as if the load had been taken.
    """
    if settings.snowflake is None and not settings.duckdb_path.exists():
        raise WarehouseNotReady(
            f"no warehouse at {settings.duckdb_path}: run `pageview-platform deploy-schema` (or"
            " `make demo`) first, or point PAGEVIEW_DUCKDB_PATH at it; nothing ran"
        )


@dataclass
class IngestReport:
    """What an ingest did, for the operator."""

    load: str
    captured_rows: int = 0
    quarantined_rows: int = 0
    runs: list[RunOutcome] = field(default_factory=list)
    # On DuckDB: how long moving the runs' writes from the write-ahead log into the warehouse
    # file took, after the runs (None on Snowflake, or when DuckDB left it to the close).
    checkpoint_seconds: float | None = None


class Ingest:
    """Starts the runs planner.plan gives for one landing load and reports what they did."""

    def __init__(self, settings: Settings, launcher: RunLauncher) -> None:
        self._settings = settings
        self._launcher = launcher

    def users(self, day: date) -> IngestReport:
        """Captures the landing users snapshot as DAY's and updates history and attribution.

        One run, unless a later snapshot was captured before: then the history from DAY
        through the latest is rebuilt as a range, in a second run.
        """
        return self._ingest(UsersSnapshot(day), f"users snapshot {day}")

    def accept_held(self, day: date) -> IngestReport:
        """Accepts DAY's held users snapshot as it is, then rebuilds history from DAY through the
        latest accepted snapshot: two runs (the acceptance, then the history range)."""
        return self._ingest(HeldUsersSnapshot(day), f"held users snapshot {day}")

    def pageviews(self, hour: datetime) -> IngestReport:
        """Captures the landing pageviews load as HOUR's and merges it, in one run."""
        return self._ingest(PageviewsLoad(hour), f"pageviews load {hour:%Y-%m-%dT%H}")

    def _ingest(self, load: Load, name: str) -> IngestReport:
        report = IngestReport(load=name)
        # Held across the runs: on DuckDB their steps' connections then share the open database
        # instead of each reopening it and checkpointing on close.
        with open_connection(self._settings) as con:
            # The landing table is confirmed before anything runs (a missing one runs nothing).
            confirmed = {} if isinstance(load, HeldUsersSnapshot) else _confirmed_landing(con, load)
            for run in plan(con, load):
                report.runs.append(
                    self._launcher.run(
                        run.job_name,
                        run.first,
                        run.last,
                        ops_config=confirmed if run.captures_landing else None,
                    )
                )
            report.captured_rows, report.quarantined_rows = _load_counts(con, load)
            if self._settings.snowflake is None:
                report.checkpoint_seconds = _checkpoint(con)
        return report


def _checkpoint(con: Connection) -> float | None:
    """Checkpoints the DuckDB warehouse; returns how long it took, or None when DuckDB refused
    (another transaction open), leaving it to the close.

    The close would do the same work (DuckDB checkpoints a file on close when its write-ahead
    log holds anything): done here, it is timed and reported apart from the fixed cost of a
    process, which otherwise hides a large load's checkpoint (about a second at full volume).
    """
    started = perf_counter()
    try:
        execute(con, "CHECKPOINT", {})
    except duckdb.Error:
        return None
    return perf_counter() - started


def _confirmed_landing(con: Connection, load: UsersSnapshot | PageviewsLoad) -> dict[str, object]:
    """The capture step's config confirming the landing table's current content as the load the
    operator named: the CLI's ingest is the operator's explicit choice of partition."""
    contract, capture = (
        (USERS_LANDING, RAW_USERS_EXTRACT)
        if isinstance(load, UsersSnapshot)
        else (PAGEVIEWS_LANDING, RAW_PAGEVIEWS_EXTRACT)
    )
    table = contract.table
    try:
        contract.verify(con)
    except LandingTableMissing as err:
        raise WarehouseNotReady(
            f"landing.{table} does not exist: nothing to ingest, nothing ran"
        ) from err
    except LandingSchemaDrift:
        # The run's capture step reports the drift, column by column, and fails.
        return {}
    return {
        AssetKey(capture).to_python_identifier(): {
            "config": {CONFIRM_FIELD: landing_fingerprint(con, table)}
        }
    }


def _load_counts(con: Connection, load: Load) -> tuple[int, int]:
    """Captured and quarantined rows of one load (table names from this module only)."""
    if isinstance(load, PageviewsLoad):
        raw, quarantine, key_column, key = (
            "pageviews_extract",
            "pageviews_quarantine",
            "load_hour",
            load.hour,
        )
    else:
        raw, quarantine, key_column = "users_extract", "users_quarantine", "snapshot_date"
        key = datetime.combine(load.day, time())
    [(captured, quarantined)] = execute(
        con,
        f"SELECT (SELECT count(*) FROM raw.{raw} WHERE {key_column} = $key),"
        f" (SELECT count(*) FROM core.{quarantine} WHERE {key_column} = $key)",
        {"key": key},
    ).fetchall()
    return captured, quarantined
