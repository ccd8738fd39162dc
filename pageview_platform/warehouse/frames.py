"""The pandas I/O managers: small DataFrames (an operator's summary) written into the warehouse.

Built on dagster-duckdb-pandas and dagster-snowflake-pandas, with the stock write path's traps
closed:

- the partition delete and the insert are one transaction; on Snowflake the frame is staged
  before it begins, since staging runs DDL, which would commit it;
- columns are matched by name (`INSERT ... BY NAME`; a column list on Snowflake), not position;
- tables are deployed up front, so the delete surfaces every error (the stock one swallows
  "does not exist"), and the partition must hold exactly the frame's rows after the write: a
  wrong `partition_expr` fails instead of duplicating the partition;
- an empty frame writes nothing but still empties its partition;
- partition windows are bound as UTC, TIMESTAMP without zone.

pandas, pyarrow and the Snowflake connector are imported only when an I/O manager is created,
so loading the code location on DuckDB imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from dagster import (
    ConfigurableIOManagerFactory,
    InputContext,
    OutputContext,
    TableColumn,
    TableSchema,
    TimeWindow,
)
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager
from pydantic import Field

from pageview_platform.dagster_internals import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TableMetadataSet,
    TableSlice,
)
from pageview_platform.settings import Settings
from pageview_platform.warehouse.errors import fail_fast_unless_transient
from pageview_platform.warehouse.sql import identifier

if TYPE_CHECKING:
    import pandas as pd

    from pageview_platform.warehouse.snowflake import SnowflakeSession


def _table(table_slice: TableSlice) -> str:
    return f"{identifier(table_slice.schema)}.{identifier(table_slice.table)}"


def _slice_where(table_slice: TableSlice) -> tuple[str, dict[str, object]]:
    """The slice's partition window as a predicate on $start / $end, bound as UTC without zone."""
    dimensions = table_slice.partition_dimensions
    if not dimensions:
        return "TRUE", {}
    if len(dimensions) > 1 or not isinstance(dimensions[0].partitions, TimeWindow):
        raise ValueError(f"{_table(table_slice)}: only one time-window partition is supported")
    column = identifier(dimensions[0].partition_expr)
    window = dimensions[0].partitions
    return f"{column} >= $start AND {column} < $end", {
        "start": window.start.astimezone(UTC).replace(tzinfo=None),
        "end": window.end.astimezone(UTC).replace(tzinfo=None),
    }


def _select(table_slice: TableSlice) -> tuple[str, dict[str, object]]:
    columns = ", ".join(identifier(c) for c in table_slice.columns or []) or "*"
    where, params = _slice_where(table_slice)
    return f"SELECT {columns} FROM {_table(table_slice)} WHERE {where}", params


def _check_slice(connection: Any, table_slice: TableSlice, written: int) -> None:
    """Fails the write if the partition now holds other rows than the frame's: the frame has
    rows outside it, or partition_expr names the wrong column (which would duplicate it)."""
    where, params = _slice_where(table_slice)
    sql = f"SELECT count(*) FROM {_table(table_slice)} WHERE {where}"
    (held,) = connection.execute(sql, params).fetchone()
    if held != written:
        raise ValueError(
            f"{_table(table_slice)}: wrote {written} rows but the partition holds {held}; the"
            " frame has rows outside its partition or partition_expr is wrong"
        )


def _frame_metadata(context: OutputContext, frame: pd.DataFrame) -> dict[str, Any]:
    schema = TableSchema(
        columns=[TableColumn(name=str(name), type=str(kind)) for name, kind in frame.dtypes.items()]
    )
    if context.has_partition_key or context.has_asset_partitions:
        return dict(TableMetadataSet(partition_row_count=len(frame), column_schema=schema))
    return dict(TableMetadataSet(row_count=len(frame), column_schema=schema))


# ---------------------------------------------------------------- DuckDB


class TransactionalDuckDbClient(DuckDbClient):
    """Makes the partition delete and the insert one transaction, so a failed write changes
    nothing; the delete binds the window and surfaces every error (the tables are deployed)."""

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        where, params = _slice_where(table_slice)
        connection.execute(f"DELETE FROM {_table(table_slice)} WHERE {where}", params)

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection) -> None:
        """Schemas come from the deployed DDL, never from an asset key."""

    @staticmethod
    @contextmanager
    def connect(context, table_slice: TableSlice) -> Iterator[Any]:
        from pageview_platform.warehouse.duckdb import connect

        config = context.resource_config
        with fail_fast_unless_transient(snowflake=False):
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


class DuckDBFrameTypeHandler(DbTypeHandler):
    """dagster-duckdb-pandas' handler, inserting by column name and writing empty frames too."""

    def __init__(self) -> None:
        from dagster_duckdb_pandas import DuckDBPandasTypeHandler

        self._stock = DuckDBPandasTypeHandler()

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection
    ) -> Mapping[str, Any]:
        if not obj.empty:
            connection.register("_pageview_frame", obj)
            try:
                connection.execute(
                    f"INSERT INTO {_table(table_slice)} BY NAME SELECT * FROM _pageview_frame"
                )
            finally:
                connection.unregister("_pageview_frame")
        _check_slice(connection, table_slice, len(obj))
        return _frame_metadata(context, obj)

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection
    ) -> pd.DataFrame:
        return self._stock.load_input(context, table_slice, connection)

    @property
    def supported_types(self) -> Sequence[type]:
        return self._stock.supported_types


class DuckDBFrameIOManager(DuckDBIOManager):
    """Writes DataFrames into the DuckDB warehouse; a partition's replace is one transaction."""

    start_date: str = Field(description="First partition date, YYYY-MM-DD.")

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [DuckDBFrameTypeHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        # One handler of one type: DataFrame is the default load type.
        return DbIOManager(
            db_client=TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            io_manager_name="DuckDBFrameIOManager",
        )


# ---------------------------------------------------------------- Snowflake


class SnowflakeFrameWrite:
    """A Snowflake session whose transaction opens with the partition delete, held back until
    the frame is staged: write_pandas creates a stage (DDL), which would commit the transaction
    half way. Scratch tables staged for the write are dropped when it ends."""

    def __init__(self, session: SnowflakeSession) -> None:
        self.session = session
        self.in_transaction = False
        self.staged: list[str] = []
        self._delete: tuple[str, dict[str, object]] | None = None

    def hold_delete(self, sql: str, params: dict[str, object]) -> None:
        self._delete = (sql, params)

    def begin(self) -> None:
        """Opens the write's transaction with the held partition delete."""
        self.session.execute_native("BEGIN")
        self.in_transaction = True
        if self._delete is not None:
            self.session.execute(*self._delete)

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> Any:
        return self.session.execute(sql, params)


class TransactionalSnowflakeClient(DbClient):
    """Makes the partition delete and the insert one transaction, so a failed write changes
    nothing. Tables exist before any run (deploy-schema), so the transaction holds no DDL, and
    the delete surfaces every error, where the stock client ignores "does not exist"."""

    @staticmethod
    @contextmanager
    def connect(context, table_slice: TableSlice) -> Iterator[SnowflakeFrameWrite]:
        from pageview_platform.warehouse.dialect import SCRATCH_SCHEMA
        from pageview_platform.warehouse.snowflake import session

        with fail_fast_unless_transient(snowflake=True), session(context.resource_config) as con:
            write = SnowflakeFrameWrite(con)
            try:
                yield write
                if write.in_transaction:
                    con.execute_native("COMMIT")
            except BaseException:
                if write.in_transaction:
                    con.execute_native("ROLLBACK")
                raise
            finally:
                for staging in write.staged:
                    con.execute_native(f"DROP TABLE IF EXISTS {SCRATCH_SCHEMA}.{staging}")

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection) -> None:
        """Schemas come from deploy-schema, never from an asset key."""

    @staticmethod
    def delete_table_slice(
        context: OutputContext, table_slice: TableSlice, connection: SnowflakeFrameWrite
    ) -> None:
        where, params = _slice_where(table_slice)
        connection.hold_delete(f"DELETE FROM {_table(table_slice)} WHERE {where}", params)

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        return DuckDbClient.get_select_statement(table_slice)


class SnowflakeFrameTypeHandler(DbTypeHandler):
    """dagster-snowflake-pandas' handler, made transactional and able to write empty frames.

    The frame is staged first, from a second session, into a transient scratch table of its
    own; the transaction then deletes the partition and inserts the staged rows by column name.
    An empty frame stages nothing: the delete alone leaves the partition empty.
    """

    def __init__(self) -> None:
        from dagster_snowflake_pandas import SnowflakePandasTypeHandler
        from snowflake.connector.pandas_tools import write_pandas

        from pageview_platform.warehouse.dialect import SCRATCH_SCHEMA

        self._scratch = SCRATCH_SCHEMA
        self._stock = SnowflakePandasTypeHandler()
        self._write_pandas = write_pandas

    def handle_output(
        self,
        context: OutputContext,
        table_slice: TableSlice,
        obj: pd.DataFrame,
        connection: SnowflakeFrameWrite,
    ) -> Mapping[str, Any]:
        frame = obj.rename(columns=str.lower)
        staging = None
        if not frame.empty:
            staging = f"frame_{identifier(table_slice.table)}_{uuid4().hex}"
            connection.staged.append(staging)
            with connection.session.resource.get_connection() as staging_connection:
                self._write_pandas(
                    staging_connection,
                    frame,
                    staging,
                    schema=self._scratch,
                    auto_create_table=True,
                    table_type="transient",
                    quote_identifiers=False,
                    # Timestamps as TIMESTAMP_NTZ rather than epoch numbers.
                    use_logical_type=True,
                )
        connection.begin()
        if staging is not None:
            columns = ", ".join(identifier(c) for c in frame.columns)
            connection.execute(
                f"INSERT INTO {_table(table_slice)} ({columns})"
                f" SELECT {columns} FROM {self._scratch}.{staging}"
            )
        _check_slice(connection, table_slice, len(frame))
        return _frame_metadata(context, frame)

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection: SnowflakeFrameWrite
    ) -> pd.DataFrame:
        import pandas as pd

        if table_slice.partition_dimensions and not context.asset_partition_keys:
            return pd.DataFrame()
        result = connection.execute(*_select(table_slice))
        rows = result.fetchall()
        return pd.DataFrame(rows, columns=[column[0] for column in result.description])

    @property
    def supported_types(self) -> Sequence[type]:
        return self._stock.supported_types


class SnowflakeFrameIOManager(ConfigurableIOManagerFactory):
    """Writes DataFrames into the Snowflake warehouse; a partition's replace is one transaction.

    Its fields are the connection fields of dagster-snowflake's I/O manager that the platform
    sets (settings.SnowflakeSettings.resource_config).
    """

    account: str
    user: str
    role: str
    warehouse: str
    database: str
    password: str | None = None
    private_key: str | None = None
    private_key_path: str | None = None
    additional_snowflake_connection_args: dict[str, Any] | None = None

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalSnowflakeClient(),
            database=self.database,
            type_handlers=[SnowflakeFrameTypeHandler()],
            io_manager_name="SnowflakeFrameIOManager",
        )


def frame_io_manager(settings: Settings) -> DuckDBFrameIOManager | SnowflakeFrameIOManager:
    """The pandas I/O manager of the configured warehouse."""
    if settings.snowflake is not None:
        from pageview_platform.warehouse.resources import _snowflake_config

        return SnowflakeFrameIOManager(**_snowflake_config(settings.snowflake))
    return DuckDBFrameIOManager(
        database=str(settings.duckdb_path),
        connection_config=settings.duckdb_connection_config,
        start_date=settings.start_date.isoformat(),
    )
