"""What an ingest runs: capture the load, then rebuild exactly the partitions it affects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

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


_VALID_HOURS_OF_LOAD = """
SELECT DISTINCT date_trunc('hour', pageview_datetime)
FROM core.pageviews_extract_checked
WHERE load_hour = $load_hour AND reject_reason IS NULL
"""

_HOURS_AFFECTED_BY_NEW_SNAPSHOT = """
SELECT DISTINCT pageview_hour FROM core.pageview_fact WHERE pageview_hour >= $day
UNION
SELECT DISTINCT f.pageview_hour
FROM core.pageview_fact AS f
JOIN core.user_postcode_history AS h ON h.user_id = f.user_id AND h.valid_from = $day
"""


class Ingest:
    """Runs the Dagster jobs that take one landing load through the graph."""

    def __init__(self, settings: Settings, launcher: RunLauncher) -> None:
        self._settings = settings
        self._launcher = launcher

    def _query(self, sql: str, params: dict[str, object]) -> list[tuple]:
        settings = self._settings
        with connect(
            settings.duckdb_path, settings.duckdb_connection_config, settings.start_date
        ) as con:
            return execute(con, sql, params).fetchall()

    def users(self, day: date) -> IngestReport:
        """Captures the landing users snapshot as DAY's, then re-attributes what it changes."""
        snapshot = datetime.combine(day, time())
        [(already_captured, latest)] = self._query(
            "SELECT count(*) FILTER (snapshot_date = $day) > 0, max(snapshot_date)"
            " FROM raw.users_extract",
            {"day": snapshot},
        )
        report = IngestReport(load=f"users snapshot {day}")
        report.runs.append(self._launcher.run(CAPTURE_USERS_SNAPSHOT, day_key(day)))
        last_day = max(latest.date(), day) if latest else day
        report.runs.append(
            self._launcher.run(UPDATE_POSTCODE_HISTORY, day_key(day), day_key(last_day))
        )
        if already_captured or last_day > day:
            # A replaced or back-dated snapshot can move any view's postcode: rebuild them all.
            hours = self._query("SELECT DISTINCT pageview_hour FROM core.pageview_fact", {})
        else:
            hours = self._query(_HOURS_AFFECTED_BY_NEW_SNAPSHOT, {"day": snapshot})
        report.runs.extend(self._attribute(hour for (hour,) in hours))
        [(report.captured_rows, report.quarantined_rows)] = self._query(
            "SELECT (SELECT count(*) FROM raw.users_extract WHERE snapshot_date = $day),"
            " (SELECT count(*) FROM core.users_quarantine WHERE snapshot_date = $day)",
            {"day": snapshot},
        )
        return report

    def pageviews(self, hour: datetime) -> IngestReport:
        """Captures the landing pageviews load as HOUR's, then rebuilds every hour it touched."""
        params = {"load_hour": hour}
        before = self._query(_VALID_HOURS_OF_LOAD, params)
        report = IngestReport(load=f"pageviews load {hour:%Y-%m-%dT%H}")
        report.runs.append(self._launcher.run(CAPTURE_PAGEVIEWS_LOAD, hour_key(hour)))
        after = self._query(_VALID_HOURS_OF_LOAD, params)
        # Hours the previous capture of this load touched lose its rows when it is replaced.
        report.runs.extend(self._attribute(h for (h,) in [*before, *after]))
        [(report.captured_rows, report.quarantined_rows)] = self._query(
            "SELECT (SELECT count(*) FROM raw.pageviews_extract WHERE load_hour = $load_hour),"
            " (SELECT count(*) FROM core.pageviews_quarantine WHERE load_hour = $load_hour)",
            params,
        )
        return report

    def _attribute(self, hours: Iterable[datetime]) -> list[RunOutcome]:
        return [
            self._launcher.run(ATTRIBUTE_PAGEVIEWS, hour_key(first), hour_key(last))
            for first, last in hour_blocks(hours)
        ]
