"""The published BI database: the six `bi` views as tables in a file of their own, which BI tools
hold open read-only while the platform writes the warehouse (docs/design.md, "BI serving").

A publish writes a new file beside the target and renames it into place. The rename is atomic:
a reader holding the old file goes on reading it (its inode) and a new connection opens the new
one, so no reader ever locks a run out, no run ever fails a reader, and nobody sees half a run.

The new file is usually a patch: a copy of the last one (a kernel-side copy, at disk speed) in
which only the rows whose answers changed are rewritten. The steps that move the aggregates
record what they changed in the warehouse, in their own transaction. Whole hours go to
`ops.bi_unpublished_hours`: a replaced load's rebuilt hours (RECORD_REBUILT_HOURS), those the
current-postcode window leaves (RECORD_AGED_HOURS), and an hour in which a merge's or a
re-attribution's delta moved at least half the rows (a load's own hour). The other cells of
those deltas, a period and a postcode of one answer, go to `ops.bi_unpublished_cells`
(RECORD_DELTA_CELLS): a late row is one cell, not its hour. A publish rewrites the hours with
their days and months, and the cells (an hour's with its day's and month's, for its postcode),
then clears both. So its cost follows what changed, not the history. The file carries a
generation the warehouse also records: a file at the path that is not the last one published
(deleted, restored, a failed publish's) is written new, as it is when most of it changed (a
snapshot that moved many users' views), which also compacts it.

The copy grows with history (the hourly answers keep every hour). So the file a patch replaces
is kept beside it as the spare (`<file>.spare`, a hard link), with the changes that patch
applied (ops.bi_last_published_*): the next publish patches the spare with those and its own
instead of copying, which costs what the last two runs changed, not the file's size. Not when
a reader holds the spare (a BI connection opened before the last publish): DuckDB's lock
refuses the attach, and the publish copies.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from time import perf_counter

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

from pageview_platform.settings import BI_SPARE_MODES
from pageview_platform.warehouse.session import Connection, execute, run_script
from pageview_platform.warehouse.sql import identifier, read_sql, split_statements

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
# Above this share changed (the hours changed whole, of those with views, plus the rows the
# changed cells name, of those the last file holds: patch_size.sql), a new file costs less than
# a patch of a copy (and leaves no deleted rows' space behind).
REWRITE_SHARE = 0.5
# How a publish went (Publication.how).
NEW_FILE, PATCH, UNCHANGED = "new file", "patch", "unchanged"
# What a patch starts from (Publication.base): a copy of the published file, or the spare.
COPY, SPARE = "copy", "spare"
# What the writers of the aggregates run in their transaction on DuckDB, so the next publish
# knows which cells and hours to rewrite, and for an hour's cell its new value.
RECORD_DELTA_CELLS = "publish/record_delta_cells.sql"
# What moves the aggregates by a writer's staged deltas (BIDatabase.apply_deltas): the hourly
# ones by a MERGE, or on DuckDB with a published file by an update that keeps the new values.
APPLY_AGGREGATE_DELTAS = "transform/apply_aggregate_deltas.sql"
MERGE_HOURLY_DELTAS = "transform/merge_hourly_deltas.sql"
MERGE_HOURLY_DELTAS_KEEPING_VALUES = "publish/merge_hourly_deltas_keeping_values.sql"
RECORD_REBUILT_HOURS = "publish/record_rebuilt_hours.sql"
RECORD_AGED_HOURS = "publish/record_aged_hours.sql"

# Connections to one warehouse file in one process share its attached databases, and the alias.
_publishing = Lock()


@dataclass(frozen=True)
class Publication:
    """What a publish wrote: the file, each table's rows, its size, how long it took, how (a new
    file, a patch of a copy of the last one, or nothing when nothing changed since it) and the
    rows it wrote (all, those of the changed periods and cells, or none)."""

    path: Path
    rows: dict[str, int]
    size_bytes: int
    seconds: float
    how: str
    rows_written: int
    # Where the seconds went: the copy of the last file, the changed periods and cells
    # rewritten in it (or the new file written), the checkpoint as it is detached, and so on.
    phases: dict[str, float] = field(default_factory=dict)
    # What a patch started from: a copy of the published file, or the spare ("" otherwise).
    base: str = ""

    @property
    def described(self) -> str:
        """How it went, and a patch's base: "patch of the spare", "new file", ..."""
        return f"{self.how} of the {self.base}" if self.base else self.how


class Phases:
    """The seconds a publish spends in each of its phases, summed by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        started = perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + perf_counter() - started


def staged_path(target: Path) -> Path:
    """Where this process writes the next file before it replaces TARGET."""
    return target.with_name(f"{target.name}.{os.getpid()}.tmp")


def spare_path(target: Path) -> Path:
    """Where the file the last publish replaced is kept (a hard link to it)."""
    return target.with_name(f"{target.name}.spare")


def publish(con: Connection, target: Path, spare: str = "on") -> Publication:
    """Writes the warehouse's `bi` views, with their comments, into a DuckDB file readable by
    DuckDB 1.x (a patch of a copy of the last one or of the spare, or new) and renames it to
    TARGET; the previous file stays whole if anything fails. SPARE (BI_SPARE_MODES) says whether to
    keep and patch the spare.

    CON is the run's connection, outside any transaction: while it holds the warehouse, no
    other process commits, so the file is one committed state, and publishes replace each other
    in the order of those states.
    """
    if spare not in BI_SPARE_MODES:
        raise ValueError(f"spare must be one of {BI_SPARE_MODES}, not {spare!r}")
    started = perf_counter()
    phases = Phases()
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
            with _without_dictionary_compression(con):
                _remove(staged)
                base = (
                    SPARE if _open_spare(con, target, staged, generation, spare, phases) else COPY
                )
                run_script(con, read_sql("publish/pending.sql"), {"spare": base == SPARE})
                run_script(con, read_sql("publish/changed_periods.sql"), {})
                if base == SPARE:
                    written = _patch_attached(con, phases)
                else:
                    written = _patch(con, target, staged, generation, phases)
                patched = written is not None
                if not patched:
                    with phases.time("new_file"):
                        _remove(staged)
                        _attach(con, staged)
                        run_script(con, read_sql("publish/bi_database.sql"), {})
                published_at = datetime.now(UTC).replace(tzinfo=None)
                try:
                    with phases.time("comments_and_counts"):
                        run_script(
                            con,
                            read_sql("publish/publication.sql"),
                            {"published_at": published_at, "generation": generation + 1},
                        )
                        for statement in _comments(con):
                            con.execute(statement)
                        rows = _count_rows(con)
                finally:
                    with phases.time("checkpoint"):  # DETACH checkpoints the file
                        con.execute(f"DETACH {ALIAS}")
            with phases.time("rename"):
                # The file replaced becomes the spare when the changes that bring it up to
                # date are known (a patch's); no other spare stays.
                kept = patched and spare == "on" and _keep_as_spare(target)
                if not kept:
                    spare_path(target).unlink(missing_ok=True)
                os.replace(staged, target)
            # The commit may checkpoint the warehouse's write-ahead log (the run's writes).
            with phases.time("record"):
                run_script(
                    con,
                    read_sql("publish/published.sql"),
                    {"published_at": published_at, "generation": generation + 1, "kept": kept},
                )
        finally:
            _remove(staged)
            con.execute("DROP TABLE IF EXISTS temp.bi_changed_periods")
            con.execute("DROP TABLE IF EXISTS temp.bi_view_cells")
            con.execute("DROP TABLE IF EXISTS temp.bi_pending_hours")
            con.execute("DROP TABLE IF EXISTS temp.bi_pending_cells")
    return Publication(
        target,
        rows,
        target.stat().st_size,
        perf_counter() - started,
        PATCH if patched else NEW_FILE,
        written if patched else sum(rows.values()),
        phases.seconds,
        base if patched else "",
    )


@contextmanager
def _without_dictionary_compression(con: Connection) -> Iterator[None]:
    """DuckDB's dictionary compression left out of the choice while the file is written.

    For a string column, a checkpoint in the file's format (STORAGE_VERSION) weighs dictionary
    compression against FSST by trying both. The published postcodes (about a million distinct
    at full volume) always end up FSST, and trying dictionary on them costs about half the
    time the rows take to write: with it left out, the same file is written in about half the
    time (docs/performance.md). The setting is the database instance's, so it is restored
    before the run goes on writing the warehouse, whose newer format has DICT_FSST anyway.
    """
    con.execute("SET disabled_compression_methods = 'dictionary'")
    try:
        yield
    finally:
        con.execute("RESET disabled_compression_methods")


def _open_spare(
    con: Connection, target: Path, staged: Path, generation: int, mode: str, phases: Phases
) -> bool:
    """Moves the spare to STAGED and attaches it when MODE keeps one and it is usable: one
    generation behind the published file (as the warehouse records it, spare.sql, and as the
    file itself says), with the changes since kept, and held by no reader. Returns whether it
    did; when not, nothing is attached and no spare is left at STAGED."""
    spare = spare_path(target)
    if mode != "on" or not generation or not spare.exists():
        return False
    (held,) = execute(con, read_sql("publish/spare.sql"), {}).fetchone()
    if held != generation - 1:
        return False
    with phases.time("spare"):
        try:
            os.replace(spare, staged)
            _attach(con, staged)
        except (OSError, duckdb.Error):  # gone, or held by a reader: its lock refuses us
            _remove(staged)
            return False
        if _attached_generation(con) != held:
            con.execute(f"DETACH {ALIAS}")
            _remove(staged)
            return False
    return True


def _keep_as_spare(target: Path) -> bool:
    """Links the file at TARGET, about to be replaced, as the spare; whether it could (no
    file, or a file system without hard links: no spare)."""
    spare = spare_path(target)
    linked = spare.with_name(f"{spare.name}.{os.getpid()}.tmp")
    try:
        linked.unlink(missing_ok=True)
        os.link(target, linked)
        os.replace(linked, spare)
    except OSError:
        linked.unlink(missing_ok=True)
        spare.unlink(missing_ok=True)
        return False
    return True


def _unchanged(con: Connection, target: Path, generation: int) -> dict[str, int] | None:
    """Each table's rows in TARGET when it is the file the warehouse last published (and so,
    nothing having changed since, up to date); else None."""
    if not generation or not target.exists():
        return None
    try:
        con.execute(f"ATTACH $path AS {ALIAS} (READ_ONLY)", {"path": str(target)})
    except duckdb.Error:
        return None
    try:
        if _attached_generation(con) != generation:
            return None
        return _count_rows(con)
    except duckdb.Error:  # its tables are not the published ones
        return None
    finally:
        con.execute(f"DETACH {ALIAS}")


def _attach(con: Connection, staged: Path) -> None:
    """Attaches STAGED (new, or a copy of the last file) as ALIAS, in DuckDB 1.0's format."""
    con.execute(
        f"ATTACH $path AS {ALIAS} (STORAGE_VERSION '{STORAGE_VERSION}')", {"path": str(staged)}
    )


def _patch(
    con: Connection, target: Path, staged: Path, generation: int, phases: Phases
) -> int | None:
    """Copies TARGET to STAGED and rewrites there the periods and cells changed since the last
    publish; returns the rows it wrote, or None when it did not patch. It does not, and leaves
    nothing attached, when TARGET is not the file the warehouse last published (none, not
    DuckDB, another generation) or when most of it changed."""
    if not generation or not target.exists():
        return None
    with phases.time("copy"):
        shutil.copyfile(target, staged)
    try:
        _attach(con, staged)
    except duckdb.Error:  # not a DuckDB file we can open: write a new one
        _remove(staged)
        return None
    if _attached_generation(con) != generation:
        con.execute(f"DETACH {ALIAS}")
        return None
    return _patch_attached(con, phases)


def _attached_generation(con: Connection) -> int | None:
    """The generation the file attached as ALIAS says it is, or None when it is not a file this
    publisher wrote (no publication table, or one without a generation)."""
    try:
        (held,) = execute(con, read_sql("publish/file_generation.sql"), {}).fetchone()
    except duckdb.Error:
        return None
    return held


def _patch_attached(con: Connection, phases: Phases) -> int | None:
    """Rewrites the pending periods and cells in the attached file (a copy of the published
    one, or the spare); returns the rows it wrote, or None, detached, when most of it changed
    and a new file costs less."""
    try:
        if _changed_share(con) <= REWRITE_SHARE:
            return _patch_tables(con, phases)
    except Exception:
        con.execute(f"DETACH {ALIAS}")
        raise
    con.execute(f"DETACH {ALIAS}")
    return None


def _changed_share(con: Connection) -> float:
    """How much of the attached last file a patch would rewrite: the share of the hours with
    views changed whole, plus the share of its rows the changed cells name (patch_size.sql)."""
    hours, hours_held, cell_rows, rows_held = execute(
        con, read_sql("publish/patch_size.sql"), {}
    ).fetchone()
    return hours / max(hours_held, 1) + cell_rows / max(rows_held, 1)


def _patch_tables(con: Connection, phases: Phases) -> int:
    """Rewrites each published table's changed periods, then its changed cells, from the
    warehouse's views, or for an hour's cell from the value recorded with it; returns the rows it
    wrote. A table with neither is not read."""
    written = 0
    for view in BI_VIEWS:
        table = identifier(view)
        answer, grain = view.removeprefix("pageviews_by_").rsplit("_", 1)
        params = {"view": view, "answer": answer, "grain": grain}
        with phases.time("cells"):
            first, last = execute(con, read_sql("publish/cell_periods.sql"), params).fetchone()
            first_read = last_read = None
            if first is not None:
                first, last, first_read, last_read = _last_row(
                    con,
                    read_sql("publish/view_cells.sql").format(table=table),
                    {**params, "first": first, "last": last},
                )
        with phases.time("periods"):
            # The periods' first and last bound both scans, as the cells' do (patch_cells.sql).
            bounds = execute(con, read_sql("publish/view_periods.sql"), params).fetchone()
            if bounds[0] is not None:
                script = read_sql("publish/patch_periods.sql").format(table=table)
                written += _inserted(
                    con, script, {"view": view, "first": bounds[0], "last": bounds[1]}
                )
        if first is not None:
            with phases.time("cells"):
                script = read_sql("publish/patch_cells.sql").format(table=table)
                written += _inserted(con, script, {"first": first, "last": last})
                if first_read is not None:
                    script = read_sql("publish/read_cells.sql").format(table=table)
                    written += _inserted(con, script, {"first": first_read, "last": last_read})
    return written


def _last_row(con: Connection, script: str, params: dict[str, object]) -> tuple:
    """Runs SCRIPT with the parameters each statement uses; returns its last statement's row."""
    for statement in split_statements(script):
        row = execute(con, statement, params).fetchone()
    return row


def _inserted(con: Connection, script: str, params: dict[str, object]) -> int:
    """Runs SCRIPT; returns the rows its INSERT statements wrote (DuckDB returns the count)."""
    written = 0
    for statement in split_statements(script):
        (count,) = execute(con, statement, params).fetchone()
        if statement.upper().startswith("INSERT"):
            written += int(count)
    return written


def _count_rows(con: Connection) -> dict[str, int]:
    """Each published table's rows."""
    counted = {}
    for view in BI_VIEWS:
        script = read_sql("publish/table_rows.sql").format(table=identifier(view))
        (counted[view],) = execute(con, script, {}).fetchone()
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
    spare: str = Field(
        default="on",
        description="on: a publish keeps the file it replaces and patches it next time instead"
        " of copying the published file, whose size grows with history; off: it copies and"
        " keeps no spare file.",
    )

    def apply_deltas(self) -> tuple[str, ...]:
        """The scripts that move the aggregates by the deltas a writer staged, in its
        transaction: with a published file, the hourly cells' new values are kept and what
        changed is recorded for the next publish."""
        if self.path is None:
            return (APPLY_AGGREGATE_DELTAS, MERGE_HOURLY_DELTAS)
        return (APPLY_AGGREGATE_DELTAS, MERGE_HOURLY_DELTAS_KEEPING_VALUES, RECORD_DELTA_CELLS)

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
        return publish(con, Path(self.path), self.spare)
