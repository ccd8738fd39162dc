"""What an ingest runs: one Dagster run per landing load, through capture, history and merge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from pageview_platform.jobs import (
    CAPTURE_USERS_SNAPSHOT,
    INGEST_PAGEVIEWS_LOAD,
    INGEST_USERS_SNAPSHOT,
    UPDATE_POSTCODE_HISTORY,
)
from pageview_platform.runs import RunLauncher, RunOutcome
from pageview_platform.settings import Settings
from pageview_platform.warehouse.resources import open_connection
from pageview_platform.warehouse.session import Connection, execute


class InvalidPartition(ValueError):
    """A --date or --hour argument that names no partition."""


def parse_day(text: str, settings: Settings, today: date | None = None) -> date:
    """A --date argument as a daily partition: YYYY-MM-DD, from the start date to today (UTC)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as err:
        raise InvalidPartition(f"--date must be YYYY-MM-DD, got {text!r}") from err
    today = today or datetime.now(UTC).date()
    if not settings.start_date <= day <= today:
        raise InvalidPartition(
            f"--date {day} is outside the partitions {settings.start_date}..{today}"
        )
    return day


def parse_hour(text: str, settings: Settings, now: datetime | None = None) -> datetime:
    """A --hour argument as an hourly partition: YYYY-MM-DDTHH, from the start date to now (UTC)."""
    try:
        hour = datetime.strptime(text, "%Y-%m-%dT%H")
    except ValueError as err:
        raise InvalidPartition(f"--hour must be YYYY-MM-DDTHH, got {text!r}") from err
    first = datetime.combine(settings.start_date, time())
    last = (now or datetime.now(UTC)).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    if not first <= hour <= last:
        raise InvalidPartition(f"--hour {text} is outside the partitions {first:%Y-%m-%dT%H}..")
    return hour


def day_key(day: date) -> str:
    return day.isoformat()


def hour_key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d-%H:%M")


@dataclass
class IngestReport:
    """What an ingest did, for the operator."""

    load: str
    captured_rows: int = 0
    quarantined_rows: int = 0
    runs: list[RunOutcome] = field(default_factory=list)


def history_end_after_capture(con: Connection, day: date) -> date:
    """The last day of the history a snapshot of DAY invalidates: the latest snapshot's, or DAY."""
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
            last = history_end_after_capture(con, day)
            if last == day:
                report.runs.append(self._launcher.run(INGEST_USERS_SNAPSHOT, day_key(day)))
            else:
                report.runs.append(self._launcher.run(CAPTURE_USERS_SNAPSHOT, day_key(day)))
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
            report.runs.append(self._launcher.run(INGEST_PAGEVIEWS_LOAD, hour_key(hour)))
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
