"""The platform's settings, read from the environment in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An environment variable holds a value the platform cannot use."""


@dataclass(frozen=True)
class Settings:
    """Where the warehouse lives and which dates the partitions cover."""

    duckdb_path: Path
    start_date: date
    dagster_home: Path
    duckdb_memory_limit: str
    duckdb_threads: int
    max_snapshot_shrink: float
    slack_token: str | None = None
    slack_channel: str | None = None

    @property
    def duckdb_connection_config(self) -> dict[str, object]:
        return {"memory_limit": self.duckdb_memory_limit, "threads": self.duckdb_threads}


def _parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise SettingsError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from err


def _parse_positive_int(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _parse_fraction(name: str, value: str) -> float:
    problem = f"{name} must be a fraction from 0 to 1, got {value!r}"
    try:
        fraction = float(value)
    except ValueError as err:
        raise SettingsError(problem) from err
    # The negated test also rejects NaN.
    if not 0 <= fraction <= 1:
        raise SettingsError(problem)
    return fraction


def _slack(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    token = env.get("PAGEVIEW_SLACK_TOKEN") or None
    channel = env.get("PAGEVIEW_SLACK_CHANNEL") or None
    # Half a Slack configuration would quietly keep alerts out of Slack.
    if (token is None) != (channel is None):
        raise SettingsError("PAGEVIEW_SLACK_TOKEN and PAGEVIEW_SLACK_CHANNEL must be set together")
    return token, channel


def get_settings() -> Settings:
    """Reads the settings afresh, so tests can point the platform at a scratch warehouse."""
    env = os.environ
    slack_token, slack_channel = _slack(env)
    return Settings(
        duckdb_path=Path(env.get("PAGEVIEW_DUCKDB_PATH", "data/warehouse.duckdb")),
        start_date=_parse_date("PAGEVIEW_START_DATE", env.get("PAGEVIEW_START_DATE", "2024-01-01")),
        dagster_home=Path(env.get("DAGSTER_HOME", str(REPO_ROOT / ".dagster_home"))),
        duckdb_memory_limit=env.get("PAGEVIEW_DUCKDB_MEMORY_LIMIT", "4GB"),
        duckdb_threads=_parse_positive_int(
            "PAGEVIEW_DUCKDB_THREADS", env.get("PAGEVIEW_DUCKDB_THREADS", str(os.cpu_count() or 2))
        ),
        max_snapshot_shrink=_parse_fraction(
            "PAGEVIEW_MAX_SNAPSHOT_SHRINK", env.get("PAGEVIEW_MAX_SNAPSHOT_SHRINK", "0.10")
        ),
        slack_token=slack_token,
        slack_channel=slack_channel,
    )
