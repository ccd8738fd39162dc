"""What an ingest runs: capture the load, then rebuild exactly the partitions it affects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import duckdb

from pageview_platform.jobs import (
    ATTRIBUTE_PAGEVIEWS,
    CAPTURE_PAGEVIEWS_LOAD,
    CAPTURE_USERS_SNAPSHOT,
    UPDATE_POSTCODE_HISTORY,
)
from pageview_platform.runs import RunLauncher, RunOutcome
from pageview_platform.settings import Settings
from pageview_platform.warehouse.duckdb import connect, execute

HOUR = timedelta(hours=1)


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


def hour_blocks(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive runs of hours as (first, last), so each becomes one range run."""
    blocks: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if blocks and hour - blocks[-1][1] == HOUR:
            blocks[-1] = (blocks[-1][0], hour)
        else:
            blocks.append((hour, hour))
    return blocks


@dataclass
class IngestReport:
    """What an ingest did, for the operator."""

    load: str
    captured_rows: int = 0
    quarantined_rows: int = 0
    runs: list[RunOutcome] = field(default_factory=list)


_HOURS_AFFECTED_BY_NEW_SNAPSHOT = """
SELECT DISTINCT pageview_hour FROM core.pageview_fact WHERE pageview_hour >= $day
UNION
SELECT DISTINCT f.pageview_hour
FROM core.pageview_fact AS f
JOIN core.user_postcode_history AS h ON h.user_id = f.user_id AND h.valid_from = $day
"""


def history_days_after_capture(con: duckdb.DuckDBPyConnection, day: date) -> tuple[date, date]:
    """The history range a captured snapshot invalidates: its day through the latest snapshot."""
    [(latest,)] = con.execute("SELECT max(snapshot_date) FROM raw.users_extract").fetchall()
    return day, max(latest.date(), day) if latest else day


def hours_after_history(con: duckdb.DuckDBPyConnection, day: date) -> list[datetime]:
    """The pageview hours whose postcodes a snapshot of DAY can have changed."""
    snapshot = datetime.combine(day, time())
    [(captures, latest)] = execute(
        con,
        "SELECT (SELECT count(*) FROM ops.users_snapshot_captures WHERE snapshot_date = $day),"
        " (SELECT max(snapshot_date) FROM raw.users_extract)",
        {"day": snapshot},
    ).fetchall()
    if captures > 1 or (latest is not None and latest > snapshot):
        # A replaced or back-dated snapshot can move any view's postcode: rebuild them all.
        rows = con.execute("SELECT DISTINCT pageview_hour FROM core.pageview_fact").fetchall()
    else:
        rows = execute(con, _HOURS_AFFECTED_BY_NEW_SNAPSHOT, {"day": snapshot}).fetchall()
    return [hour for (hour,) in rows]


def hours_after_pageviews_capture(
    con: duckdb.DuckDBPyConnection, load_hour: datetime
) -> list[datetime]:
    """Every hour any capture of the load touched: a replaced load may have left some of them."""
    rows = execute(
        con,
        "SELECT DISTINCT pageview_hour FROM ops.pageview_load_hours WHERE load_hour = $load_hour",
        {"load_hour": load_hour},
    ).fetchall()
    return [hour for (hour,) in rows]


class Ingest:
    """Runs the Dagster jobs that take one landing load through the graph."""

    def __init__(self, settings: Settings, launcher: RunLauncher) -> None:
        self._settings = settings
        self._launcher = launcher

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        settings = self._settings
        con = connect(settings.duckdb_path, settings.duckdb_connection_config, settings.start_date)
        try:
            yield con
        finally:
            con.close()

    def users(self, day: date) -> IngestReport:
        """Captures the landing users snapshot as DAY's, then re-attributes what it changes."""
        report = IngestReport(load=f"users snapshot {day}")
        report.runs.append(self._launcher.run(CAPTURE_USERS_SNAPSHOT, day_key(day)))
        with self._connection() as con:
            first, last = history_days_after_capture(con, day)
        report.runs.append(
            self._launcher.run(UPDATE_POSTCODE_HISTORY, day_key(first), day_key(last))
        )
        with self._connection() as con:
            hours = hours_after_history(con, day)
            report.captured_rows, report.quarantined_rows = _load_counts(
                con, "users_extract", "users_quarantine", "snapshot_date", snapshot_start(day)
            )
        report.runs.extend(self._attribute(hours))
        return report

    def pageviews(self, hour: datetime) -> IngestReport:
        """Captures the landing pageviews load as HOUR's, then rebuilds every hour it touched."""
        report = IngestReport(load=f"pageviews load {hour:%Y-%m-%dT%H}")
        report.runs.append(self._launcher.run(CAPTURE_PAGEVIEWS_LOAD, hour_key(hour)))
        with self._connection() as con:
            hours = hours_after_pageviews_capture(con, hour)
            report.captured_rows, report.quarantined_rows = _load_counts(
                con, "pageviews_extract", "pageviews_quarantine", "load_hour", hour
            )
        report.runs.extend(self._attribute(hours))
        return report

    def _attribute(self, hours: Iterable[datetime]) -> list[RunOutcome]:
        return [
            self._launcher.run(ATTRIBUTE_PAGEVIEWS, hour_key(first), hour_key(last))
            for first, last in hour_blocks(hours)
        ]


def snapshot_start(day: date) -> datetime:
    return datetime.combine(day, time())


def _load_counts(
    con: duckdb.DuckDBPyConnection, raw: str, quarantine: str, key_column: str, key: datetime
) -> tuple[int, int]:
    """Captured and quarantined rows of one load (table names from this module only)."""
    [(captured, quarantined)] = execute(
        con,
        f"SELECT (SELECT count(*) FROM raw.{raw} WHERE {key_column} = $key),"
        f" (SELECT count(*) FROM core.{quarantine} WHERE {key_column} = $key)",
        {"key": key},
    ).fetchall()
    return captured, quarantined
