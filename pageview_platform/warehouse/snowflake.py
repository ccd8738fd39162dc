"""Snowflake as the warehouse: sessions that run the platform's SQL, schema deployment, grants and
a transactional I/O manager built on dagster-snowflake and dagster-snowflake-pandas."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pandas as pd
from dagster import OutputContext
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_snowflake import SnowflakeResource
from dagster_snowflake.snowflake_io_manager import SnowflakeDbClient, SnowflakeIOManager
from dagster_snowflake_pandas import SnowflakePandasTypeHandler
from snowflake.connector import pandas_tools

from pageview_platform.warehouse.dialect import SCRATCH_SCHEMA, scratch_ddl, to_snowflake
from pageview_platform.warehouse.duckdb import SqlRelationTypeHandler
from pageview_platform.warehouse.session import WarehouseResource
from pageview_platform.warehouse.sql import SQL_ROOT, SqlRelation, split_statements

# The connection fields of dagster-snowflake's resource that this platform sets.
CONNECTION_FIELDS = (
    "account",
    "user",
    "password",
    "private_key",
    "private_key_path",
    "private_key_password",
    "role",
    "warehouse",
    "database",
    "additional_snowflake_connection_args",
)
# Names the platform writes into SQL text (tables, partition columns, roles): plain identifiers.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def identifier(name: str) -> str:
    """NAME, if it is a plain identifier; anything else is refused before it reaches SQL."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return name


class SnowflakeResult:
    """A finished statement's rows, with the lowercase column names DuckDB would give."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def description(self) -> list[tuple]:
        return [(column[0].lower(), *column[1:]) for column in self._cursor.description or []]

    def fetchone(self) -> tuple | None:
        row = self._cursor.fetchone()
        return None if row is None else _plain_row(row)

    def fetchall(self) -> list[tuple]:
        return [_plain_row(row) for row in self._cursor.fetchall()]


def _plain_row(row: Sequence[object]) -> tuple:
    """NUMBER values as int (whole) or float, as DuckDB gives them: metadata takes no Decimal."""
    return tuple(
        (int(value) if value == value.to_integral_value() else float(value))
        if isinstance(value, Decimal)
        else value
        for value in row
    )


class SnowflakeSession:
    """A Snowflake connection that runs the platform's DuckDB-dialect SQL, parameters bound."""

    def __init__(self, connection: Any, resource: SnowflakeResource) -> None:
        self._connection = connection
        self.resource = resource
        self._held: list[tuple[str, Mapping[str, object]]] = []

    def begin_with(self, sql: str, parameters: Mapping[str, object]) -> None:
        """Holds BEGIN and SQL back until the next statement, so what comes first can still
        prepare outside the transaction (a frame staged through another session)."""
        self._held = [("BEGIN TRANSACTION", {}), (sql, parameters)]

    def execute(self, sql: str, parameters: Mapping[str, object] | None = None) -> SnowflakeResult:
        held, self._held = self._held, []
        for held_sql, held_parameters in held:
            self.execute(held_sql, held_parameters)
        cursor = None
        for statement in to_snowflake(sql):
            cursor = self.execute_native(statement.sql, statement.bind(dict(parameters or {})))
        return SnowflakeResult(cursor)

    def execute_native(self, sql: str, values: Sequence[object] = ()) -> Any:
        """Runs one statement already in Snowflake's dialect, values bound to :1, :2, ..."""
        cursor = self._connection.cursor()
        cursor.execute(sql, list(values) if values else None)
        return cursor

    def close(self) -> None:
        self._connection.close()


def snowflake_resource(config: Mapping[str, Any]) -> SnowflakeResource:
    """dagster-snowflake's resource for CONFIG, with numeric binds and UTC sessions."""
    fields = {name: config[name] for name in CONNECTION_FIELDS if config.get(name) is not None}
    # Server-side binding: a value never becomes SQL text, and '%' in a LIKE stays a '%'. Every
    # table is named with its schema; the current schema only receives what the connector makes
    # for itself (write_pandas' temporary stage), so it is the scratch schema.
    return SnowflakeResource(**fields, schema=SCRATCH_SCHEMA, paramstyle="numeric", timezone="UTC")


@contextmanager
def session(config: Mapping[str, Any]) -> Iterator[SnowflakeSession]:
    """A session on the configured database, closed when the block ends."""
    resource = snowflake_resource(config)
    with resource.get_connection() as connection:
        yield SnowflakeSession(connection, resource)


def deploy_schema(connection: SnowflakeSession, start_date: date) -> list[str]:
    """Creates whatever is missing (schemas, tables, views, scratch tables), sets clustering and
    records the start date; returns every statement it ran. Running it again changes nothing."""
    ran: list[str] = []

    def run(sql: str, values: Sequence[object] = ()) -> None:
        connection.execute_native(sql, values)
        ran.append(sql)

    for folder in ("schema", "views"):
        for script in sorted((SQL_ROOT / folder).iterdir(), key=lambda f: f.name):
            for statement in split_statements(script.read_text(encoding="utf-8")):
                for translated in to_snowflake(statement):
                    run(translated.sql)
    for statement in split_statements((SQL_ROOT / "snowflake" / "deploy.sql").read_text()):
        run(statement)
    # Scratch tables take their columns from the queries that fill them.
    for create in scratch_ddl():
        run(create.sql)
    run("BEGIN")
    run("DELETE FROM core.platform_settings")
    run(
        "INSERT INTO core.platform_settings (start_date) VALUES (:1)",
        [datetime.combine(start_date, time())],
    )
    run("COMMIT")
    return ran


def bi_grants(database: str, role: str, warehouse: str, grants_role: str) -> list[str]:
    """The statements that give ROLE read access to the `bi` schema's views and nothing else.

    They run as GRANTS_ROLE: creating a role and granting on future views takes CREATE ROLE and
    MANAGE GRANTS, which the pipeline's role, owner of everything else, should not hold.
    """
    database, role = identifier(database), identifier(role)
    warehouse, grants_role = identifier(warehouse), identifier(grants_role)
    return [
        f"USE ROLE {grants_role}",
        f"CREATE ROLE IF NOT EXISTS {role}",
        f"GRANT USAGE ON WAREHOUSE {warehouse} TO ROLE {role}",
        f"GRANT USAGE ON DATABASE {database} TO ROLE {role}",
        f"GRANT USAGE ON SCHEMA {database}.bi TO ROLE {role}",
        f"GRANT SELECT ON ALL VIEWS IN SCHEMA {database}.bi TO ROLE {role}",
        f"GRANT SELECT ON FUTURE VIEWS IN SCHEMA {database}.bi TO ROLE {role}",
    ]


def _table(table_slice: TableSlice) -> str:
    return f"{identifier(table_slice.schema)}.{identifier(table_slice.table)}"


def _slice_where(table_slice: TableSlice) -> tuple[str, dict[str, object]]:
    """The slice's partition window as a predicate with bound values (UTC, without zone)."""
    clauses, params = [], {}
    for n, dimension in enumerate(table_slice.partition_dimensions):
        column = identifier(dimension.partition_expr)
        start, end = dimension.partitions
        clauses.append(f"{column} >= $slice_start_{n} AND {column} < $slice_end_{n}")
        params[f"slice_start_{n}"] = start.replace(tzinfo=None)
        params[f"slice_end_{n}"] = end.replace(tzinfo=None)
    return " AND ".join(clauses) or "TRUE", params


class TransactionalSnowflakeClient(SnowflakeDbClient):
    """Makes the partition delete and the insert one transaction, so a failed write changes nothing.

    Tables exist before any run (deploy-schema), so the transaction holds no DDL, which on
    Snowflake would commit it half way; and the delete surfaces every error, where the stock
    client ignores "does not exist" and a wrong partition_expr would duplicate a partition.
    """

    @staticmethod
    @contextmanager
    def connect(context, table_slice) -> Iterator[SnowflakeSession]:
        with session(context.resource_config) as connection:
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection) -> None:
        """Schemas come from deploy-schema, never from an asset key."""

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        """Opens the write's transaction with the partition delete, sent with the first insert."""
        where, params = _slice_where(table_slice)
        connection.begin_with(f"DELETE FROM {_table(table_slice)} WHERE {where}", params)


def _select(table_slice: TableSlice) -> tuple[str, dict[str, object]]:
    columns = ", ".join(identifier(c) for c in table_slice.columns or []) or "*"
    where, params = _slice_where(table_slice)
    return f"SELECT {columns} FROM {_table(table_slice)} WHERE {where}", params


class SnowflakeSqlRelationTypeHandler(SqlRelationTypeHandler):
    """Writes a SqlRelation with INSERT ... SELECT inside Snowflake, by column name."""

    def rows_in_slice(self, connection, table_slice: TableSlice) -> int:
        where, params = _slice_where(table_slice)
        sql = f"SELECT count(*) FROM {_table(table_slice)} WHERE {where}"
        return connection.execute(sql, params).fetchone()[0]

    def columns(self, connection, table_slice: TableSlice) -> list[tuple[str, str]]:
        return connection.execute(
            "SELECT lower(column_name), data_type FROM information_schema.columns"
            " WHERE lower(table_schema) = $schema AND lower(table_name) = $table"
            " ORDER BY ordinal_position",
            {"schema": table_slice.schema, "table": table_slice.table},
        ).fetchall()

    def load_input(self, context, table_slice: TableSlice, connection) -> SqlRelation:
        return SqlRelation(*_select(table_slice))


class SnowflakeFrameTypeHandler(SnowflakePandasTypeHandler):
    """dagster-snowflake-pandas' handler, made transactional and able to write empty frames.

    write_pandas creates a stage (DDL, which commits an open transaction) and fails on an empty
    frame. So a frame is staged first, from a second session, into a transient scratch table,
    before the write's transaction begins (the delete is held back until then); the transaction
    then only inserts it, by column name. An empty frame stages nothing: the delete alone
    leaves the partition empty.
    """

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection
    ) -> Mapping[str, Any]:
        if obj.empty:
            return dict(TableMetadataSet(row_count=0))
        frame = obj.rename(columns=str.lower)
        staging = f"frame_{identifier(table_slice.schema)}_{identifier(table_slice.table)}"
        with connection.resource.get_connection() as staging_connection:
            pandas_tools.write_pandas(
                staging_connection,
                frame,
                staging,
                schema=SCRATCH_SCHEMA,
                auto_create_table=True,
                overwrite=True,
                table_type="transient",
                quote_identifiers=False,
                # Timestamps as TIMESTAMP_NTZ rather than epoch numbers.
                use_logical_type=True,
            )
        columns = ", ".join(identifier(c) for c in frame.columns)
        connection.execute(
            f"INSERT INTO {_table(table_slice)} ({columns})"
            f" SELECT {columns} FROM {SCRATCH_SCHEMA}.{staging}"
        )
        return dict(TableMetadataSet(row_count=len(frame)))


class SnowflakeWarehouseIOManager(SnowflakeIOManager):
    """Persists assets in Snowflake; partition replace is one transaction."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [SnowflakeSqlRelationTypeHandler(), SnowflakeFrameTypeHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalSnowflakeClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=SqlRelation,
            io_manager_name="SnowflakeWarehouseIOManager",
        )


class SnowflakeWarehouse(WarehouseResource):
    """A connection to the Snowflake database of the environment."""

    account: str
    user: str
    role: str
    warehouse: str
    database: str
    password: str | None = None
    private_key: str | None = None
    private_key_path: str | None = None
    additional_snowflake_connection_args: dict[str, Any] | None = None

    @contextmanager
    def connection(self) -> Iterator[SnowflakeSession]:
        config = {name: getattr(self, name) for name in CONNECTION_FIELDS if hasattr(self, name)}
        with session(config) as connection:
            yield connection

    @contextmanager
    def read_only_connection(self) -> Iterator[SnowflakeSession]:
        """Snowflake readers never block writers: a plain session."""
        with self.connection() as connection:
            yield connection
