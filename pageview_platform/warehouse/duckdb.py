"""DuckDB as the warehouse: connections and schema deployment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from threading import Lock
from time import sleep
from typing import Any

import duckdb
from pydantic import Field

from pageview_platform.settings import pin_start_date
from pageview_platform.warehouse.errors import transient_errors
from pageview_platform.warehouse.session import WarehouseResource
from pageview_platform.warehouse.sql import SQL_ROOT, schema_hash, schema_scripts, split_statements

LOCK_RETRIES = 40
LOCK_RETRY_DELAY = 1.5  # seconds; with the first quick retries, about a minute in all

# Errors that say another writer holds the file or won a conflict, not that the data is wrong:
# the same write can succeed a moment later.
TRANSIENT_ERRORS = transient_errors(snowflake=False)


def _lock_retry_delays() -> Iterator[float]:
    """Quick retries first (a sensor's read is short), then a steady pace."""
    yield from (0.05 * 2**n for n in range(6))
    while True:
        yield LOCK_RETRY_DELAY


_deployed: set[str] = set()
_deploy_lock = Lock()


def connect(
    database: str | Path,
    config: Mapping[str, object],
    start_date: date,
    lock_retries: int = LOCK_RETRIES,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file, with its schema deployed once per process."""
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    # DuckDB lets one process hold the file for writing, and readers (the sensors, a BI tool
    # opening it read-only) block writers briefly: wait for the lock rather than fail the run.
    delays = _lock_retry_delays()
    for retries_left in range(lock_retries, -1, -1):
        try:
            connection = duckdb.connect(str(path), config=dict(config))
            break
        except TRANSIENT_ERRORS:
            if not retries_left:
                raise
            sleep(next(delays))
    key = str(path.resolve())
    with _deploy_lock:
        if key not in _deployed:
            if not is_deployed(connection, start_date):
                deploy_schema(connection, start_date)
            pin_start_date(path, start_date)
            _deployed.add(key)
    return connection


def is_deployed(connection: duckdb.DuckDBPyConnection, start_date: date) -> bool:
    """Whether the warehouse's schema was last deployed from these very scripts, with this start
    date: then a process has nothing to deploy (each ingest process would otherwise run every
    script again, about 0.2 s)."""
    try:
        recorded = connection.execute(
            "SELECT (SELECT max(ddl_hash) FROM ops.schema_deployment),"
            " (SELECT max(start_date) FROM core.platform_settings)"
        ).fetchone()
    except duckdb.CatalogException:  # a new file, or one deployed before the hash was kept
        return False
    return recorded == (schema_hash(SQL_ROOT), datetime.combine(start_date, time()))


# The extract process owns the landing tables: `deploy-schema` creates them where it has not
# yet, but an ingest never does, or it would capture an empty table the extract never loaded.
LANDING_DDL = "schema/10_landing.sql"


def deploy_schema(
    connection: duckdb.DuckDBPyConnection, start_date: date, landing: bool = False
) -> None:
    """Creates whatever is missing (schemas, tables, views; with LANDING the landing tables too)
    and records the start date."""
    for script in schema_scripts(SQL_ROOT):
        if script.relative_to(SQL_ROOT).as_posix() == LANDING_DDL and not landing:
            continue
        for statement in split_statements(script.read_text(encoding="utf-8")):
            connection.execute(statement)
    connection.execute("BEGIN TRANSACTION")
    connection.execute("DELETE FROM core.platform_settings")
    connection.execute(
        "INSERT INTO core.platform_settings VALUES ($start_date)",
        {"start_date": datetime.combine(start_date, time())},
    )
    connection.execute("DELETE FROM ops.schema_deployment")
    connection.execute(
        "INSERT INTO ops.schema_deployment VALUES ($hash, $now)",
        {"hash": schema_hash(SQL_ROOT), "now": datetime.now(UTC).replace(tzinfo=None)},
    )
    connection.execute("COMMIT")


class DuckDBWarehouse(WarehouseResource):
    """A connection to the DuckDB warehouse file."""

    database: str = Field(description="Path to the DuckDB warehouse file.")
    connection_config: dict[str, Any] = Field(default={}, description="DuckDB settings.")
    start_date: str = Field(description="First partition date, YYYY-MM-DD.")

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.database, self.connection_config, date.fromisoformat(self.start_date))
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def read_only_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, for sensors that must not take the single writer's lock.

        Raises duckdb.IOException while another process writes, or before the file exists.
        """
        con = duckdb.connect(self.database, read_only=True, config=dict(self.connection_config))
        try:
            yield con
        finally:
            con.close()
