"""What an ingest runs: one Dagster run per landing load, through capture, history and merge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time

from dagster import AssetKey

from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT, RAW_USERS_EXTRACT
from pageview_platform.assets.landing_guard import CONFIRM_FIELD, landing_fingerprint
from pageview_platform.jobs import (
    ACCEPT_HELD_USERS_SNAPSHOT,
    CAPTURE_USERS_SNAPSHOT,
    INGEST_PAGEVIEWS_LOAD,
    INGEST_USERS_SNAPSHOT,
    UPDATE_POSTCODE_HISTORY,
)

# Re-exported: the partition helpers live in a module the CLI imports before Dagster.
from pageview_platform.partition_keys import (  # noqa: F401
    InvalidPartition,
    day_key,
    hour_key,
    parse_day,
    parse_hour,
)
from pageview_platform.runs import RunLauncher, RunOutcome
from pageview_platform.settings import Settings
from pageview_platform.warehouse.contract import (
    PAGEVIEWS_LANDING,
    USERS_LANDING,
    LandingContract,
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


def _confirmed_landing(
    con: Connection, contract: LandingContract, capture: list[str]
) -> dict[str, object]:
    """The capture step's config confirming the landing table's current content as the load the
    operator named: the CLI's ingest is the operator's explicit choice of partition."""
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


@dataclass
class IngestReport:
    """What an ingest did, for the operator."""

    load: str
    captured_rows: int = 0
    quarantined_rows: int = 0
    runs: list[RunOutcome] = field(default_factory=list)


def history_end_after_capture(con: Connection, day: date) -> date:
    """The last day of the history a snapshot of DAY invalidates: the latest accepted snapshot's,
    or DAY (held snapshots are not in raw.users_extract)."""
    [(latest,)] = con.execute("SELECT max(snapshot_date) FROM raw.users_extract").fetchall()
    return max(latest.date(), day) if latest else day


class Ingest:
    """Runs the Dagster jobs that take one landing load through the graph."""

    def __init__(self, settings: Settings, launcher: RunLauncher) -> None:
        self._settings = settings
        self._launcher = launcher

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection held across the ingest's runs: on DuckDB their steps' connections then
        share the open database instead of each reopening it and checkpointing on close."""
        with open_connection(self._settings) as con:
            yield con

    def users(self, day: date) -> IngestReport:
        """Captures the landing users snapshot as DAY's and updates history and attribution.

        One run, unless a later snapshot was captured before: then the history from DAY
        through the latest is rebuilt as a range, in a second run.
        """
        report = IngestReport(load=f"users snapshot {day}")
        with self._connection() as con:
            confirmed = _confirmed_landing(con, USERS_LANDING, RAW_USERS_EXTRACT)
            last = history_end_after_capture(con, day)
            job = INGEST_USERS_SNAPSHOT if last == day else CAPTURE_USERS_SNAPSHOT
            report.runs.append(self._launcher.run(job, day_key(day), ops_config=confirmed))
            if last != day:
                report.runs.append(
                    self._launcher.run(UPDATE_POSTCODE_HISTORY, day_key(day), day_key(last))
                )
            report.captured_rows, report.quarantined_rows = _load_counts(
                con, "users_extract", "users_quarantine", "snapshot_date", snapshot_start(day)
            )
        return report

    def accept_held(self, day: date) -> IngestReport:
        """Accepts DAY's held users snapshot as it is, then rebuilds history from DAY through the
        latest accepted snapshot: two runs (the acceptance, then the history range)."""
        report = IngestReport(load=f"held users snapshot {day}")
        with self._connection() as con:
            report.runs.append(self._launcher.run(ACCEPT_HELD_USERS_SNAPSHOT, day_key(day)))
            last = history_end_after_capture(con, day)
            report.runs.append(
                self._launcher.run(UPDATE_POSTCODE_HISTORY, day_key(day), day_key(last))
            )
            report.captured_rows, report.quarantined_rows = _load_counts(
                con, "users_extract", "users_quarantine", "snapshot_date", snapshot_start(day)
            )
        return report

    def pageviews(self, hour: datetime) -> IngestReport:
        """Captures the landing pageviews load as HOUR's and merges it, in one run."""
        report = IngestReport(load=f"pageviews load {hour:%Y-%m-%dT%H}")
        with self._connection() as con:
            confirmed = _confirmed_landing(con, PAGEVIEWS_LANDING, RAW_PAGEVIEWS_EXTRACT)
            report.runs.append(
                self._launcher.run(INGEST_PAGEVIEWS_LOAD, hour_key(hour), ops_config=confirmed)
            )
            report.captured_rows, report.quarantined_rows = _load_counts(
                con, "pageviews_extract", "pageviews_quarantine", "load_hour", hour
            )
        return report


def snapshot_start(day: date) -> datetime:
    return datetime.combine(day, time())


def _load_counts(
    con: Connection, raw: str, quarantine: str, key_column: str, key: datetime
) -> tuple[int, int]:
    """Captured and quarantined rows of one load (table names from this module only)."""
    [(captured, quarantined)] = execute(
        con,
        f"SELECT (SELECT count(*) FROM raw.{raw} WHERE {key_column} = $key),"
        f" (SELECT count(*) FROM core.{quarantine} WHERE {key_column} = $key)",
        {"key": key},
    ).fetchall()
    return captured, quarantined
