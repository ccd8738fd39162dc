"""SQL files and the relations assets hand to the I/O manager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from dagster import TimeWindow

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"


@cache
def read_sql(path: str) -> str:
    """The text of a SQL file under pageview_platform/sql, e.g. 'transform/pageview_fact.sql'."""
    return (SQL_ROOT / path).read_text(encoding="utf-8")


def split_statements(script: str) -> list[str]:
    """The statements of a script whose statements each end with ';' at the end of a line."""
    statements = []
    for chunk in script.split(";\n"):
        lines = [line for line in chunk.splitlines() if not line.lstrip().startswith("--")]
        statement = "\n".join(lines).strip().rstrip(";").strip()
        if statement:
            statements.append(statement)
    return statements


def window_params(window: TimeWindow) -> dict[str, datetime]:
    """A partition window as the $start / $end parameters of the transformation SQL (UTC, naive)."""
    return {
        "start": window.start.replace(tzinfo=None),
        "end": window.end.replace(tzinfo=None),
    }


@dataclass(frozen=True)
class SqlRelation:
    """A SELECT the warehouse evaluates and writes into the asset's table, never through Python.

    `after` holds named scripts run in the same transaction once the rows are written, for the
    bookkeeping a partition write implies beyond its own rows (closing SCD2 versions). Each
    statement's time is metadata (`seconds_<name>.<what it writes>`), as is the write's
    (`seconds_write`).
    `metrics` is a query returning one row whose columns become numeric metadata of the
    materialization, so the UI plots them over partitions.
    """

    sql: str
    params: Mapping[str, object] = field(default_factory=dict)
    after: tuple[tuple[str, str], ...] = ()
    metrics: str | None = None

    @classmethod
    def from_file(
        cls,
        path: str,
        params: Mapping[str, object],
        after: tuple[tuple[str, str], ...] = (),
        metrics: str | None = None,
    ) -> SqlRelation:
        return cls(
            read_sql(path),
            params,
            tuple((Path(p).stem, read_sql(p)) for p in after),
            read_sql(metrics) if metrics else None,
        )
