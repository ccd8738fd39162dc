"""Drives the platform the way the extract process and an operator do: land a table, run the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import duckdb

from pageview_platform import cli

UserRow = tuple[int | None, str | None]
PageviewRow = tuple[int | None, str | None, datetime | None]

VIEW_NAMES = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in ("current_postcode", "postcode_at_view")
    for grain in ("hourly", "daily", "monthly")
)


class Platform:
    """A scratch warehouse file plus the CLI pointed at it."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse

    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=read_only)

    def land_users(self, rows: Iterable[UserRow]) -> None:
        """Truncates and reloads landing.users_extract, as the daily extract does."""
        with self._connect() as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS landing")
            con.execute(
                "CREATE TABLE IF NOT EXISTS landing.users_extract (id BIGINT, postcode VARCHAR)"
            )
            con.execute("DELETE FROM landing.users_extract")
            rows = list(rows)
            if rows:
                con.executemany("INSERT INTO landing.users_extract VALUES (?, ?)", rows)

    def land_pageviews(self, rows: Iterable[PageviewRow]) -> None:
        """Truncates and reloads landing.pageviews_extract, as the hourly extract does."""
        with self._connect() as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS landing")
            con.execute(
                "CREATE TABLE IF NOT EXISTS landing.pageviews_extract"
                " (user_id BIGINT, url VARCHAR, pageview_datetime TIMESTAMP)"
            )
            con.execute("DELETE FROM landing.pageviews_extract")
            rows = list(rows)
            if rows:
                con.executemany("INSERT INTO landing.pageviews_extract VALUES (?, ?, ?)", rows)

    def ingest_users(self, day: date | str, *, expect_ok: bool = True) -> int:
        """Runs `pageview-platform ingest-users --date DAY`; returns its exit code."""
        key = day.isoformat() if isinstance(day, date) else day
        code = cli.main(["ingest-users", "--date", key])
        if expect_ok:
            assert code == 0, f"ingest-users --date {key} exited {code}"
        return code

    def ingest_pageviews(self, hour: datetime | str, *, expect_ok: bool = True) -> int:
        """Runs `pageview-platform ingest-pageviews --hour HOUR`; returns its exit code."""
        key = hour.strftime("%Y-%m-%dT%H") if isinstance(hour, datetime) else hour
        code = cli.main(["ingest-pageviews", "--hour", key])
        if expect_ok:
            assert code == 0, f"ingest-pageviews --hour {key} exited {code}"
        return code

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        with self._connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def view(self, name: str) -> set[tuple[datetime, str, int]]:
        """Every row of a BI view as (period_start, postcode, pageviews)."""
        rows = self.query(f"SELECT period_start, postcode, pageviews FROM {name}")
        assert len(rows) == len(set(rows)), f"{name} repeats a row"
        return set(rows)

    def views(self) -> dict[str, set[tuple[datetime, str, int]]]:
        return {name: self.view(name) for name in VIEW_NAMES}


@contextmanager
def platform_at(
    directory: Path,
    dagster_home: Path | None = None,
    start_date: str = "2024-01-01",
    max_snapshot_shrink: str = "1",
) -> Iterator[Platform]:
    """Points the platform's environment at DIRECTORY for the duration, then restores it.

    Scenarios use a handful of users, where one absent user is a large share of a snapshot,
    so the shrink check is off unless a test asks for it (test_checks does).
    """
    directory.mkdir(parents=True, exist_ok=True)
    overrides = {
        "PAGEVIEW_DUCKDB_PATH": str(directory / "warehouse.duckdb"),
        "DAGSTER_HOME": str(dagster_home or directory / "dagster_home"),
        "PAGEVIEW_START_DATE": start_date,
        "PAGEVIEW_DUCKDB_THREADS": "2",
        "PAGEVIEW_DUCKDB_MEMORY_LIMIT": "1GB",
        "PAGEVIEW_MAX_SNAPSHOT_SHRINK": max_snapshot_shrink,
    }
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield Platform(directory / "warehouse.duckdb")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
