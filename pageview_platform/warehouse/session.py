"""What the pipeline does with a warehouse connection, whichever warehouse it is.

A connection here is anything with DuckDB's `execute(sql, params)`: a DuckDB connection, or a
`SnowflakeSession` that translates the same SQL. Parameters are always bound, never pasted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any, ClassVar, Protocol

from dagster import ConfigurableResource, TableColumn, TableSchema

from pageview_platform.warehouse.errors import fail_fast_unless_transient
from pageview_platform.warehouse.sql import identifier, read_sql, split_statements

_PARAMETER = re.compile(r"\$([a-z_]+)\b")


class Cursor(Protocol):
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A DuckDB connection or a SnowflakeSession."""

    def execute(self, sql: str, parameters: Any = None) -> Cursor: ...

    def close(self) -> None: ...


class WarehouseResource(ConfigurableResource):
    """A connection to the warehouse: for reads that steer a run, and for every asset's writes."""

    on_snowflake: ClassVar[bool] = False

    def connection(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def fail_fast_unless_transient(self) -> AbstractContextManager[None]:
        """Leaves this warehouse's transient errors to the step's retry policy and fails the
        step at once on any other error."""
        return fail_fast_unless_transient(self.on_snowflake)

    def read_only_connection(self) -> AbstractContextManager[Connection]:
        """A connection for sensors, which must not hold up writers."""
        raise NotImplementedError


def execute(connection: Connection, sql: str, params: Mapping[str, object]) -> Cursor:
    """Runs SQL with the named parameters it uses bound (DuckDB rejects unused ones)."""
    used = {name: params[name] for name in _PARAMETER.findall(sql) if name in params}
    return connection.execute(sql, used)


@contextmanager
def transaction(connection: Connection) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises.

    Every asset writes inside one: a partition replace, a merge, and the scripts after them.
    """
    connection.execute("BEGIN TRANSACTION")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def run_script(
    connection: Connection, script: str, params: Mapping[str, object]
) -> dict[str, float]:
    """Runs the statements of SCRIPT, each with the parameters it uses; returns each one's
    seconds, labelled by what it writes (e.g. `insert_core.pageview_fact`)."""
    seconds: dict[str, float] = {}
    for statement in split_statements(script):
        started = perf_counter()
        execute(connection, statement, params)
        label = _statement_label(statement)
        seconds[label] = seconds.get(label, 0.0) + perf_counter() - started
    return seconds


_WRITE = re.compile(
    r"^\s*(CREATE OR REPLACE TEMP TABLE|INSERT INTO|UPDATE|MERGE INTO|DELETE FROM)\s+([\w.]+)",
    re.IGNORECASE,
)


def _statement_label(statement: str) -> str:
    match = _WRITE.match(statement)
    if match is None:
        return "other"
    verb = match.group(1).split()[0].lower()
    return f"{'create' if verb == 'create' else verb}_{match.group(2)}"


def metrics_row(connection: Connection, sql: str, params: Mapping[str, object]) -> dict[str, float]:
    """The one row of a metrics query, as metadata: column name to number (NULL as 0)."""
    cursor = execute(connection, sql, params)
    values = cursor.fetchone()
    return {name: value or 0 for (name, *_), value in zip(cursor.description, values, strict=True)}


def replace_partition(
    connection: Connection,
    table: str,
    partition_column: str,
    params: Mapping[str, object],
    sql: str,
    after: Sequence[str] = (),
    metrics: str | None = None,
) -> dict[str, Any]:
    """Replaces the rows of TABLE in the window [$start, $end) of PARTITION_COLUMN with the rows
    of the SELECT in the file SQL, inserted by column name; then runs the AFTER scripts (the
    bookkeeping the write implies beyond its own rows). Runs inside the caller's transaction.

    Returns the materialization's metadata: the rows written, the METRICS query's one row (see
    metrics_row), each statement's seconds (`seconds_write`, `seconds_<script>.<what it
    writes>`) and the table's column schema.

    Fails if the window then holds other rows than those inserted: the SELECT writes outside
    the window, or the partition column is wrong, which would otherwise duplicate a partition.
    """
    schema_name, table_name = (identifier(part) for part in table.split("."))
    column = identifier(partition_column)
    window = f"{column} >= $start AND {column} < $end"
    execute(connection, f"DELETE FROM {schema_name}.{table_name} WHERE {window}", params)
    started = perf_counter()
    inserted = execute(
        connection, f"INSERT INTO {schema_name}.{table_name} BY NAME {read_sql(sql)}", params
    ).fetchone()[0]
    (in_window,) = execute(
        connection, f"SELECT count(*) FROM {schema_name}.{table_name} WHERE {window}", params
    ).fetchone()
    if in_window != inserted:
        raise ValueError(
            f"{table}: wrote {inserted} rows but the partition holds {in_window}; the SQL"
            " writes outside its partition or the partition column is wrong"
        )
    seconds = {"seconds_write": perf_counter() - started}
    for script in after:
        for label, spent in run_script(connection, read_sql(script), params).items():
            seconds[f"seconds_{Path(script).stem}.{label}"] = spent
    measured = metrics_row(connection, read_sql(metrics), params) if metrics else {}
    columns = execute(
        connection,
        "SELECT lower(column_name), data_type FROM information_schema.columns"
        " WHERE lower(table_schema) = $schema AND lower(table_name) = $table"
        " ORDER BY ordinal_position",
        {"schema": schema_name.lower(), "table": table_name.lower()},
    ).fetchall()
    return {
        "dagster/partition_row_count": inserted,
        "rows_written": inserted,
        **measured,
        **{name: round(value, 3) for name, value in seconds.items()},
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=name, type=kind) for name, kind in columns]
        ),
    }
