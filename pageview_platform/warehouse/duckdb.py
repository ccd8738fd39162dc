"""DuckDB as the warehouse: connections, schema deployment and a transactional I/O manager."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from threading import Lock
from time import perf_counter
from typing import Any

import duckdb
from dagster import (
    Backoff,
    Failure,
    InputContext,
    Jitter,
    OutputContext,
    RetryPolicy,
    TableColumn,
    TableSchema,
)
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster._utils.backoff import backoff
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager
from dagster_duckdb_pandas import DuckDBPandasTypeHandler
from pydantic import Field

from pageview_platform.settings import pin_start_date
from pageview_platform.warehouse.session import (
    WarehouseResource,
    execute,
    metrics_row,
    run_script,
)
from pageview_platform.warehouse.sql import SQL_ROOT, SqlRelation, split_statements

LOCK_RETRIES = 40
LOCK_RETRY_DELAY = 1.5  # seconds; with the first quick retries, about a minute in all

# Errors that say another writer holds the file or won a conflict, not that the data is wrong:
# the same write can succeed a moment later.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (duckdb.IOException, duckdb.TransactionException)

# For the steps that write the warehouse: after the connection's own minute of waiting for the
# lock, up to three more attempts about 1, 3 and 7 seconds apart. Only TRANSIENT_ERRORS reach it
# (see fail_fast_unless_transient).
WAREHOUSE_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=1, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


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
    connection = backoff(
        duckdb.connect,
        retry_on=TRANSIENT_ERRORS,
        args=[str(path)],
        kwargs={"config": dict(config)},
        max_retries=lock_retries,
        delay_generator=_lock_retry_delays(),
    )
    key = str(path.resolve())
    with _deploy_lock:
        if key not in _deployed:
            deploy_schema(connection, start_date)
            pin_start_date(path, start_date)
            _deployed.add(key)
    return connection


@contextmanager
def fail_fast_unless_transient() -> Iterator[None]:
    """Leaves transient warehouse errors to the step's retry policy and fails the step at once on
    any other error, which would only fail again (a data error, a refused partition range)."""
    try:
        yield
    except (*TRANSIENT_ERRORS, Failure):
        raise
    except Exception as err:
        raise Failure(description=f"{type(err).__name__}: {err}", allow_retries=False) from err


# The extract process owns the landing tables: `deploy-schema` creates them where it has not
# yet, but an ingest never does, or it would capture an empty table the extract never loaded.
LANDING_DDL = "schema/10_landing.sql"


def deploy_schema(
    connection: duckdb.DuckDBPyConnection, start_date: date, landing: bool = False
) -> None:
    """Creates whatever is missing (schemas, tables, views; with LANDING the landing tables too)
    and records the start date."""
    for folder in ("schema", "views"):
        for script in sorted((SQL_ROOT / folder).iterdir(), key=lambda f: f.name):
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
    connection.execute("COMMIT")


def _qualified(table_slice: TableSlice) -> str:
    return f"{table_slice.schema}.{table_slice.table}"


class TransactionalDuckDbClient(DuckDbClient):
    """Makes the partition delete and the insert one transaction, so a failed write changes nothing.

    The stock client also swallows catalog errors on delete, which would hide a wrong
    partition_expr; here the tables are deployed up front, so every error surfaces.
    """

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        connection.execute(
            DuckDbClient.get_select_statement(table_slice).replace(
                "SELECT * FROM", "DELETE FROM", 1
            )
        )

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection) -> None:
        """Schemas come from the deployed DDL, never from an asset key."""

    @staticmethod
    @contextmanager
    def connect(context, _table_slice) -> Iterator[duckdb.DuckDBPyConnection]:
        config = context.resource_config
        with fail_fast_unless_transient():
            connection = connect(
                config["database"],
                config["connection_config"],
                date.fromisoformat(config["start_date"]),
            )
            try:
                connection.execute("BEGIN TRANSACTION")
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                connection.close()


def _slice_row_count(connection, table_slice: TableSlice) -> int:
    select = DuckDbClient.get_select_statement(table_slice)
    return connection.execute(
        select.replace("SELECT * FROM", "SELECT count(*) FROM", 1)
    ).fetchone()[0]


class SqlRelationTypeHandler(DbTypeHandler[SqlRelation]):
    """Writes a SqlRelation with INSERT ... SELECT inside the warehouse, by column name."""

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: SqlRelation, connection
    ) -> Mapping[str, Any]:
        table = _qualified(table_slice)
        started = perf_counter()
        inserted = execute(
            connection, f"INSERT INTO {table} BY NAME {obj.sql}", obj.params
        ).fetchone()[0]
        if table_slice.partition_dimensions:
            in_slice = self.rows_in_slice(connection, table_slice)
            if in_slice != inserted:
                raise ValueError(
                    f"{table}: wrote {inserted} rows but the partition holds {in_slice}; the SQL"
                    " writes outside its partition or partition_expr is wrong"
                )
        seconds = {"seconds_write": perf_counter() - started}
        for name, script in obj.after:
            for label, spent in run_script(connection, script, obj.params).items():
                seconds[f"seconds_{name}.{label}"] = spent
        metrics = metrics_row(connection, obj.metrics, obj.params) if obj.metrics else {}
        columns = self.columns(connection, table_slice)
        counts = (
            TableMetadataSet(partition_row_count=inserted)
            if context.has_partition_key or context.has_asset_partitions
            else TableMetadataSet(row_count=inserted)
        )
        return {
            **counts,
            "rows_written": inserted,
            **metrics,
            **{name: round(value, 3) for name, value in seconds.items()},
            "dagster/column_schema": TableSchema(
                columns=[TableColumn(name=c[0], type=c[1]) for c in columns]
            ),
        }

    def rows_in_slice(self, connection, table_slice: TableSlice) -> int:
        """How many rows the table holds inside the slice just written."""
        return _slice_row_count(connection, table_slice)

    def columns(self, connection, table_slice: TableSlice) -> list[tuple[str, str]]:
        """The table's (column, type) pairs, for the column schema the UI shows."""
        return [c[:2] for c in connection.execute(f"DESCRIBE {_qualified(table_slice)}").fetchall()]

    def load_input(self, context: InputContext, table_slice: TableSlice, connection) -> SqlRelation:
        return SqlRelation(DuckDbClient.get_select_statement(table_slice))

    @property
    def supported_types(self) -> Sequence[type]:
        return [SqlRelation]


class ByNamePandasTypeHandler(DuckDBPandasTypeHandler):
    """The stock pandas handler, but inserting by column name and writing empty frames too."""

    def handle_output(self, context: OutputContext, table_slice: TableSlice, obj, connection):
        connection.register("_pageview_frame", obj)
        try:
            connection.execute(
                f"INSERT INTO {_qualified(table_slice)} BY NAME SELECT * FROM _pageview_frame"
            )
        finally:
            connection.unregister("_pageview_frame")
        return dict(TableMetadataSet(row_count=len(obj)))


class WarehouseIOManager(DuckDBIOManager):
    """Persists assets in the DuckDB warehouse; partition replace is one transaction."""

    start_date: str = Field(description="First partition date; pageviews before it are rejected.")

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [SqlRelationTypeHandler(), ByNamePandasTypeHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=SqlRelation,
            io_manager_name="WarehouseIOManager",
        )


class Warehouse(WarehouseResource):
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
