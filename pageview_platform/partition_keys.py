"""The --date and --hour arguments as partitions, and the partition keys Dagster names them by.

Only the standard library and the settings: the CLI refuses a bad argument before it imports
Dagster and the code location, which take seconds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pageview_platform.settings import Settings


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


# The hourly partition key's format (Dagster's for hourly partitions); the CLI's --hour is
# 2024-01-02T13 and the SQL's $start a naive UTC datetime: these functions convert between them.
_HOUR_KEY = "%Y-%m-%d-%H:%M"


def hour_key(hour: datetime) -> str:
    return hour.strftime(_HOUR_KEY)


def from_hour_key(key: str) -> datetime:
    """The hour of an hourly partition key (2024-01-02-13:00), naive UTC."""
    return datetime.strptime(key, _HOUR_KEY)
