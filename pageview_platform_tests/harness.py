"""Drives the platform the way the extract process and an operator do: land a table, run the CLI."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from unittest import mock

import duckdb
import fakesnow
import fakesnow.transforms
import fakesnow.transforms.stage

from pageview_platform import cli
from pageview_platform.settings import get_settings
from pageview_platform.warehouse.snowflake import SnowflakeSession, session

UserRow = tuple[int | None, str | None]
PageviewRow = tuple[int | None, str | None, datetime | None]

VIEW_NAMES = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in ("current_postcode", "postcode_at_view")
    for grain in ("hourly", "daily", "monthly")
)


LOCK_WAIT_SECONDS = 60


class Platform:
    """A scratch warehouse file plus the CLI pointed at it."""

    warehouse_kind = "duckdb"

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse

    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection to the warehouse file, waiting (as the extract process must) while a
        sensor's read-only look or a run holds it: up to a minute, like the platform's own."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return duckdb.connect(str(self.warehouse), read_only=read_only)
            except duckdb.IOException as err:
                if "lock" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

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

    def accept_snapshot(self, day: date | str, *, expect_ok: bool = True) -> int:
        """Runs `pageview-platform accept-snapshot --date DAY`; returns its exit code."""
        key = day.isoformat() if isinstance(day, date) else day
        code = cli.main(["accept-snapshot", "--date", key])
        if expect_ok:
            assert code == 0, f"accept-snapshot --date {key} exited {code}"
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

    def published_views(self) -> dict[str, set[tuple[datetime, str, int]]] | None:
        """Every row of the published BI database's tables, named as the warehouse's views
        (None before the first publish, and on Snowflake, where nothing is published)."""
        warehouse = getattr(self, "warehouse", None)  # a subclass may only query
        path = warehouse and warehouse.with_name("bi.duckdb")
        if path is None or not path.exists():
            return None
        with duckdb.connect(str(path), read_only=True) as con:
            select = "SELECT period_start, postcode, pageviews FROM {}"
            tables = {name: con.execute(select.format(name)).fetchall() for name in VIEW_NAMES}
        assert all(len(rows) == len(set(rows)) for rows in tables.values()), "a row repeats"
        return {name: set(rows) for name, rows in tables.items()}


class SnowflakePlatform(Platform):
    """A Snowflake database emulated in-process by fakesnow, plus the CLI pointed at it."""

    warehouse_kind = "snowflake"

    def __init__(self, config: dict[str, str]) -> None:
        self._config = config

    def published_views(self) -> None:
        """Nothing: BI tools read Snowflake's bi views themselves."""
        return None

    @contextmanager
    def _session(self) -> Iterator[SnowflakeSession]:
        with session(self._config) as connection:
            yield connection

    def _reload(self, table: str, columns: str, ddl: str, rows: Iterable[tuple]) -> None:
        with self._session() as con:
            con.execute_native("CREATE SCHEMA IF NOT EXISTS landing")
            con.execute_native(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
            con.execute_native(f"DELETE FROM {table}")
            placeholders = ", ".join(f":{n + 1}" for n in range(len(columns.split(","))))
            for row in rows:
                con.execute_native(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", row)

    def land_users(self, rows: Iterable[UserRow]) -> None:
        self._reload("landing.users_extract", "id, postcode", "id BIGINT, postcode VARCHAR", rows)

    def land_pageviews(self, rows: Iterable[PageviewRow]) -> None:
        self._reload(
            "landing.pageviews_extract",
            "user_id, url, pageview_datetime",
            "user_id BIGINT, url VARCHAR, pageview_datetime TIMESTAMP_NTZ",
            rows,
        )

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        assert not params, "Snowflake platform queries take named parameters only"
        with self._session() as con:
            return [tuple(row) for row in con.execute(sql).fetchall()]


# What fakesnow cannot run (clustering keys, roles, grants) passes as a no-op here;
# test_snowflake.py checks those statements with sqlglot instead.
FAKESNOW_NOPS = [r"^ALTER TABLE \S+ CLUSTER BY", r"^USE ROLE", r"^CREATE ROLE", r"^GRANT "]
FAKE_SNOWFLAKE_ENV = {
    "PAGEVIEW_WAREHOUSE": "snowflake",
    "PAGEVIEW_ENV": "test",
    "SNOWFLAKE_ACCOUNT": "fakesnow",
    "SNOWFLAKE_USER": "pipeline",
    "SNOWFLAKE_PASSWORD": "not-a-secret",
    "SNOWFLAKE_ROLE": "PAGEVIEW_PIPELINE",
    "SNOWFLAKE_WAREHOUSE": "PAGEVIEW_WH",
    "SNOWFLAKE_DATABASE": "PAGEVIEW_TEST",
}


@contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """Sets OVERRIDES in the environment for the duration, then restores what was there."""
    with mock.patch.dict(os.environ, overrides):
        yield


@contextmanager
def platform_at(
    directory: Path,
    dagster_home: Path | None = None,
    start_date: str = "2024-01-01",
    max_snapshot_shrink: str = "1",
    warehouse: str = "duckdb",
) -> Iterator[Platform]:
    """Points the platform's environment at DIRECTORY for the duration, then restores it.

    Scenarios use a handful of users, where one absent user is a large share of a snapshot,
    so the shrink check is off unless a test asks for it (test_checks does). With
    warehouse="snowflake" the warehouse is a fresh fakesnow database, deployed by the CLI.
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
    if warehouse == "duckdb":
        with environment(overrides):
            yield Platform(directory / "warehouse.duckdb")
        return
    with environment({**overrides, **FAKE_SNOWFLAKE_ENV}):
        database = directory / "fakesnow"
        shutil.copytree(_deployed_template(start_date), database)
        with fake_snowflake(database):
            config = get_settings().snowflake
            assert config is not None
            yield SnowflakePlatform(config.resource_config())


@contextmanager
def fake_snowflake(database: Path) -> Iterator[None]:
    """Snowflake emulated by fakesnow, its databases kept as files in the folder DATABASE."""
    with (
        fakesnow.patch(db_path=database, nop_regexes=FAKESNOW_NOPS),
        # fakesnow 0.12 rewrites MERGE into a CREATE TABLE AS plus updates, written for DuckDBs
        # without MERGE, and its CREATE also writes its own catalog database, which DuckDB
        # refuses inside a transaction that already wrote (every merge of ours is in one).
        # DuckDB 2 runs MERGE itself, so the statement goes through as it is.
        mock.patch.object(fakesnow.transforms, "merge", lambda statement: [statement]),
    ):
        yield


_templates: dict[str, Path] = {}
# fakesnow makes an (empty) stage folder when imported and leaves it behind.
atexit.register(shutil.rmtree, fakesnow.transforms.stage.LOCAL_BUCKET_PATH, ignore_errors=True)


def _deployed_template(start_date: str) -> Path:
    """A database `pageview-platform deploy-schema` deployed, once per process: on fakesnow a
    deploy takes seconds, and each test starts from a copy."""
    if start_date not in _templates:
        template = Path(tempfile.mkdtemp(prefix="fakesnow-template-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        with fake_snowflake(template), contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["deploy-schema"]) == 0
        _templates[start_date] = template
    return _templates[start_date]
