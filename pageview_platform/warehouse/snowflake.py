"""Snowflake as the warehouse: sessions that run the platform's SQL (on dagster-snowflake's
connection), schema deployment and grants."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

from dagster_snowflake import SnowflakeResource
from snowflake.connector.errors import ProgrammingError

from pageview_platform.warehouse.dialect import SCRATCH_SCHEMA, scratch_ddl, to_snowflake
from pageview_platform.warehouse.session import WarehouseResource
from pageview_platform.warehouse.sql import (
    SQL_ROOT,
    identifier,
    schema_hash,
    schema_scripts,
    split_statements,
)

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
# 000625: a statement gave up waiting for a table another transaction holds locked (too many
# waiters, or LOCK_TIMEOUT reached). The connector raises it as a ProgrammingError.
LOCK_WAIT_ERRNOS = frozenset({625})


class SnowflakeLockError(ProgrammingError):
    """A statement aborted waiting for another transaction's lock: it may succeed when retried."""


def _lock_error(err: ProgrammingError) -> bool:
    return err.errno in LOCK_WAIT_ERRNOS or (
        err.sqlstate == "57014" and "lock" in (err.raw_msg or "").lower()
    )


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

    def execute(self, sql: str, parameters: Mapping[str, object] | None = None) -> SnowflakeResult:
        cursor = None
        for statement in to_snowflake(sql):
            cursor = self.execute_native(statement.sql, statement.bind(dict(parameters or {})))
        return SnowflakeResult(cursor)

    def execute_native(self, sql: str, values: Sequence[object] = ()) -> Any:
        """Runs one statement already in Snowflake's dialect, values bound to :1, :2, ..."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, list(values) if values else None)
        except ProgrammingError as err:
            if _lock_error(err) and not isinstance(err, SnowflakeLockError):
                raise SnowflakeLockError(
                    msg=err.raw_msg,
                    errno=err.errno,
                    sqlstate=err.sqlstate,
                    sfqid=err.sfqid,
                    query=err.query,
                    send_telemetry=False,
                ) from err
            raise
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

    for script in schema_scripts(SQL_ROOT):
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
    run("DELETE FROM ops.schema_deployment")
    run(
        "INSERT INTO ops.schema_deployment (ddl_hash, deployed_at) VALUES (:1, :2)",
        [schema_hash(SQL_ROOT), datetime.now(UTC).replace(tzinfo=None)],
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


class SnowflakeWarehouse(WarehouseResource):
    """A connection to the Snowflake database of the environment."""

    on_snowflake: ClassVar[bool] = True
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
