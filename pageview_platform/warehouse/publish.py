"""The published BI database: the six `bi` views as tables in a file of their own, which BI tools
hold open read-only while the platform writes the warehouse (docs/design.md, "BI serving").

A publish writes a new file beside the target and renames it into place. The rename is atomic:
a reader holding the old file goes on reading it (its inode) and a new connection opens the new
one, so no reader ever locks a run out, no run ever fails a reader, and nobody sees half a run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from time import perf_counter

from dagster import ConfigurableResource
from pydantic import Field

from pageview_platform.warehouse.session import Connection, execute, run_script
from pageview_platform.warehouse.sql import identifier, read_sql

BI_VIEWS = tuple(
    f"pageviews_by_{question}_{grain}"
    for question in ("postcode_at_view", "current_postcode")
    for grain in ("hourly", "daily", "monthly")
)
PUBLICATION = "publication"
# The oldest storage format DuckDB 2 writes: DuckDB 1.0 and later read it, so do the drivers BI
# tools bundle (issue 15: 1.1.3 and 1.4.5 could not open a file in 2.0's format).
STORAGE_VERSION = "v1.0.0"
# The name the run's connection attaches the new file under (bi_database.sql writes into it).
ALIAS = "published"

# Connections to one warehouse file in one process share its attached databases, and the alias.
_publishing = Lock()


@dataclass(frozen=True)
class Publication:
    """What a publish wrote: the file, each table's rows, its size and how long it took."""

    path: Path
    rows: dict[str, int]
    size_bytes: int
    seconds: float


def staged_path(target: Path) -> Path:
    """Where this process writes the next file before it replaces TARGET."""
    return target.with_name(f"{target.name}.{os.getpid()}.tmp")


def publish(con: Connection, target: Path) -> Publication:
    """Writes the warehouse's `bi` views, with their comments, into a new DuckDB file readable
    by DuckDB 1.x and renames it to TARGET; the previous file stays whole if anything fails.

    CON is the run's connection, outside any transaction: while it holds the warehouse, no
    other process commits, so the file is one committed state, and publishes replace each other
    in the order of those states.
    """
    started = perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = staged_path(target)
    with _publishing:
        try:
            _remove(staged)
            con.execute(
                f"ATTACH $path AS {ALIAS} (STORAGE_VERSION '{STORAGE_VERSION}')",
                {"path": str(staged)},
            )
            try:
                run_script(
                    con,
                    read_sql("publish/bi_database.sql"),
                    {"published_at": datetime.now(UTC).replace(tzinfo=None)},
                )
                for statement in _comments(con):
                    con.execute(statement)
                rows = {
                    name: con.execute(f"SELECT count(*) FROM {ALIAS}.{name}").fetchone()[0]
                    for name in BI_VIEWS
                }
            finally:
                con.execute(f"DETACH {ALIAS}")
            os.replace(staged, target)
        finally:
            _remove(staged)
    return Publication(target, rows, target.stat().st_size, perf_counter() - started)


def _comments(con: Connection) -> list[str]:
    """The COMMENT statements giving the published tables their views' comments."""
    statements = []
    for relation, column, comment in execute(con, read_sql("publish/comments.sql"), {}).fetchall():
        table = f"{ALIAS}.{identifier(relation)}"
        text = comment.replace("'", "''")
        if column is None:
            statements.append(f"COMMENT ON TABLE {table} IS '{text}'")
        else:
            statements.append(f"COMMENT ON COLUMN {table}.{identifier(column)} IS '{text}'")
    return statements


def _remove(staged: Path) -> None:
    """A staged file and its write-ahead log, so a failed publish leaves nothing behind."""
    for path in (staged, staged.with_name(f"{staged.name}.wal")):
        path.unlink(missing_ok=True)


class BIDatabase(ConfigurableResource):
    """Where the runs that change the answers publish the BI database: a DuckDB file on DuckDB;
    nothing on Snowflake, where BI tools read the `bi` views themselves (readers never block
    writers there)."""

    path: str | None = Field(
        default=None, description="The published BI database file; unset on Snowflake."
    )

    def publish(self, con: Connection) -> Publication | None:
        """Publishes what CON's warehouse holds now (None on Snowflake, where nothing is)."""
        if self.path is None:
            return None
        return publish(con, Path(self.path))
