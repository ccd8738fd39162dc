"""What the pipeline does with a warehouse connection, whichever warehouse it is.

A connection here is anything with DuckDB's `execute(sql, params)`: a DuckDB connection, or a
`SnowflakeSession` that translates the same SQL. Parameters are always bound, never pasted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from time import perf_counter
from typing import Any, Protocol

from dagster import ConfigurableResource

from pageview_platform.warehouse.sql import split_statements

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
    """A connection to the warehouse: for reads that steer a run, and for assets that merge."""

    def connection(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

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

    For assets that change tables in place (merges) rather than replace a partition.
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
