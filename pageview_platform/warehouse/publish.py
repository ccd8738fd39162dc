"""The published BI database: the six `bi` views as tables in a file of their own, which BI tools
hold open read-only while the platform writes the warehouse (docs/design.md, "BI serving").

A publish writes a new file beside the target and renames it into place. The rename is atomic:
a reader holding the old file goes on reading it (its inode) and a new connection opens the new
one, so no reader ever locks a run out, no run ever fails a reader, and nobody sees half a run.

The new file is usually a patch: a copy of the last one (a kernel-side copy, at disk speed) in
which only the periods whose answers changed are rewritten. The steps that move the aggregates
record the hours they changed in the warehouse, in their own transaction
(`ops.bi_unpublished_hours`, through RECORD_DELTA_HOURS and RECORD_REBUILT_HOURS); a publish
rewrites those hours, their days and their months, then clears them. So its cost follows what
changed, not the history. The file carries a generation the warehouse also records: a file at
the path that is not the last one published (deleted, restored, a failed publish's) is written
new, as it is when most hours changed (a snapshot that moved many users' views), which also
compacts it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from time import perf_counter

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

from pageview_platform.warehouse.session import Connection, execute, run_script
from pageview_platform.warehouse.sql import identifier, read_sql

BI_VIEWS = tuple(
    f"pageviews_by_{question}_{grain}"
    for question in ("postcode_at_view", "current_postcode")
    for grain in ("hourly", "daily", "monthly")
)
# The oldest storage format DuckDB 2 writes: DuckDB 1.0 and later read it, so do the drivers BI
# tools bundle (issue 15: 1.1.3 and 1.4.5 could not open a file in 2.0's format).
STORAGE_VERSION = "v1.0.0"
# The name the run's connection attaches the new file under (bi_database.sql writes into it).
ALIAS = "published"
# Above this share of the hours changed, a new file costs less than a patch of a copy (and leaves
# no deleted rows' space behind).
REWRITE_SHARE = 0.5
# How a publish went (Publication.how).
NEW_FILE, PATCH, UNCHANGED = "new file", "patch", "unchanged"
# What the writers of the aggregates run in their transaction on DuckDB, so the next publish
# knows which hours to rewrite.
RECORD_DELTA_HOURS = "publish/record_delta_hours.sql"
RECORD_REBUILT_HOURS = "publish/record_rebuilt_hours.sql"
RECORD_AGED_HOURS = "publish/record_aged_hours.sql"

# Connections to one warehouse file in one process share its attached databases, and the alias.
_publishing = Lock()


@dataclass(frozen=True)
class Publication:
    """What a publish wrote: the file, each table's rows, its size, how long it took, how (a new
    file, a patch of a copy of the last one, or nothing when nothing changed since it) and the
    rows it wrote (all, the changed periods', or none)."""

    path: Path
    rows: dict[str, int]
    size_bytes: int
    seconds: float
    how: str
    rows_written: int


def staged_path(target: Path) -> Path:
    """Where this process writes the next file before it replaces TARGET."""
    return target.with_name(f"{target.name}.{os.getpid()}.tmp")


def publish(con: Connection, target: Path) -> Publication:
    """Writes the warehouse's `bi` views, with their comments, into a DuckDB file readable by
    DuckDB 1.x (a patch of a copy of the last one, or new) and renames it to TARGET; the
    previous file stays whole if anything fails.

    CON is the run's connection, outside any transaction: while it holds the warehouse, no
    other process commits, so the file is one committed state, and publishes replace each other
    in the order of those states.
    """
    started = perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = staged_path(target)
    with _publishing:
        (generation,) = execute(con, read_sql("publish/generation.sql"), {}).fetchone()
        (changes,) = execute(con, read_sql("publish/has_changes.sql"), {}).fetchone()
        current = None if changes else _unchanged(con, target, generation)
        if current is not None:
            return Publication(
                target, current, target.stat().st_size, perf_counter() - started, UNCHANGED, 0
            )
        try:
            _remove(staged)
            run_script(con, read_sql("publish/changed_periods.sql"), {})
            patched = _patch(con, target, staged, generation)
            if not patched:
                _remove(staged)
                _attach(con, staged)
                run_script(con, read_sql("publish/bi_database.sql"), {})
            published_at = datetime.now(UTC).replace(tzinfo=None)
            try:
                run_script(
                    con,
                    read_sql("publish/publication.sql"),
                    {"published_at": published_at, "generation": generation + 1},
                )
                for statement in _comments(con):
                    con.execute(statement)
                counted = _count_rows(con)
            finally:
                con.execute(f"DETACH {ALIAS}")
            os.replace(staged, target)
            run_script(
                con,
                read_sql("publish/published.sql"),
                {"published_at": published_at, "generation": generation + 1},
            )
        finally:
            _remove(staged)
            con.execute("DROP TABLE IF EXISTS temp.bi_changed_periods")
    rows = {name: int(total) for name, total, _ in counted}
    return Publication(
        target,
        rows,
        target.stat().st_size,
        perf_counter() - started,
        PATCH if patched else NEW_FILE,
        sum(int(changed) for *_, changed in counted) if patched else sum(rows.values()),
    )


def _unchanged(con: Connection, target: Path, generation: int) -> dict[str, int] | None:
    """Each table's rows in TARGET when it is the file the warehouse last published (and so, no
    hour having changed since, up to date); else None."""
    if not generation or not target.exists():
        return None
    try:
        con.execute(f"ATTACH $path AS {ALIAS} (READ_ONLY)", {"path": str(target)})
    except duckdb.Error:
        return None
    try:
        (held,) = execute(con, read_sql("publish/file_generation.sql"), {}).fetchone()
        if held != generation:
            return None
        run_script(con, read_sql("publish/changed_periods.sql"), {})
        counted = _count_rows(con)
        return {name: int(total) for name, total, _ in counted}
    except duckdb.Error:  # not a file this publisher wrote
        return None
    finally:
        con.execute(f"DETACH {ALIAS}")
        con.execute("DROP TABLE IF EXISTS temp.bi_changed_periods")


def _attach(con: Connection, staged: Path) -> None:
    """Attaches STAGED (new, or a copy of the last file) as ALIAS, in DuckDB 1.0's format."""
    con.execute(
        f"ATTACH $path AS {ALIAS} (STORAGE_VERSION '{STORAGE_VERSION}')", {"path": str(staged)}
    )


def _patch(con: Connection, target: Path, staged: Path, generation: int) -> bool:
    """Copies TARGET to STAGED and rewrites there the periods changed since the last publish;
    returns whether it did. It does not, and leaves nothing attached, when TARGET is not the
    file the warehouse last published (none, not DuckDB, another generation) or when most
    hours changed."""
    if not generation or not target.exists():
        return False
    shutil.copyfile(target, staged)
    try:
        _attach(con, staged)
    except duckdb.Error:  # not a DuckDB file we can open: write a new one
        _remove(staged)
        return False
    try:
        try:
            (held,) = execute(con, read_sql("publish/file_generation.sql"), {}).fetchone()
        except duckdb.Error:  # no publication table, or one without a generation
            held = None
        changed, hours = execute(con, read_sql("publish/patch_size.sql"), {}).fetchone()
        if held == generation and changed <= REWRITE_SHARE * max(hours, 1):
            _patch_tables(con)
            return True
    except Exception:
        con.execute(f"DETACH {ALIAS}")
        raise
    con.execute(f"DETACH {ALIAS}")
    return False


def _patch_tables(con: Connection) -> None:
    """Rewrites each published table's changed periods from the warehouse's views."""
    for view in BI_VIEWS:
        script = read_sql("publish/patch_table.sql").format(table=identifier(view))
        run_script(con, script, {"view": view})


def _count_rows(con: Connection) -> list[tuple[str, int, int]]:
    """Each published table's rows, and how many of them this publish wrote (changed periods)."""
    counted = []
    for view in BI_VIEWS:
        script = read_sql("publish/table_rows.sql").format(table=identifier(view))
        counted.append((view, *execute(con, script, {"view": view}).fetchone()))
    return counted


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

    def after_deltas(self) -> tuple[str, ...]:
        """The scripts a writer runs after apply_aggregate_deltas.sql, in its transaction."""
        return () if self.path is None else (RECORD_DELTA_HOURS,)

    def after_rebuild(self) -> tuple[str, ...]:
        """The scripts a writer runs after rebuild_pageview_hours.sql, in its transaction."""
        return () if self.path is None else (RECORD_REBUILT_HOURS,)

    def after_window(self) -> tuple[str, ...]:
        """The scripts the history step runs after current_postcode_window.sql, in its
        transaction."""
        return () if self.path is None else (RECORD_AGED_HOURS,)

    def publish(self, con: Connection) -> Publication | None:
        """Publishes what CON's warehouse holds now (None on Snowflake, where nothing is)."""
        if self.path is None:
            return None
        return publish(con, Path(self.path))
