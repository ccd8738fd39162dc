"""Plain DuckDB SQL, no Dagster: the file, the scripts and the stages of the bench's yardsticks.

A yardstick keeps its own database file (same memory limit and threads as the warehouse),
copies each landing load from the warehouse file attached read-only, and keeps the answers up
to date in plain SQL, one load at a time, in the order the bench lands them; bad rows are
skipped by a WHERE, not quarantined. `floor.py` is the floor the bench compares with; this
module also holds the algorithmic baseline (`--algorithmic`), which repeats the pipeline's own
algorithm: every identity of a load looked up in the fact.

No import here (or in `floor.py`) reaches Dagster: a yardstick runs as a process per load, and
its start-up is part of what it costs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from functools import cache
from pathlib import Path

import duckdb

from pageview_platform.bench.measure import Stage, measured

# The name the SQL files give the warehouse file while a capture reads its landing table.
WAREHOUSE_ALIAS = "warehouse"
BENCH_SQL = Path(__file__).resolve().parent.parent / "sql" / "bench"
_PARAMETER = re.compile(r"\$([a-z_]+)\b")


@cache
def bench_sql(path: str) -> list[str]:
    """The statements of a file under sql/bench, each ending with ';' at the end of a line (the
    platform's split, warehouse/sql.py, which imports Dagster)."""
    statements = []
    for chunk in (BENCH_SQL / path).read_text(encoding="utf-8").split(";\n"):
        lines = [line for line in chunk.splitlines() if not line.lstrip().startswith("--")]
        statement = "\n".join(lines).strip().rstrip(";").strip()
        if statement:
            statements.append(statement)
    return statements


def _execute(
    con: duckdb.DuckDBPyConnection, statement: str, params: Mapping[str, object]
) -> duckdb.DuckDBPyConnection:
    """Runs STATEMENT with the named parameters it uses bound (DuckDB rejects unused ones)."""
    used = {name: params[name] for name in _PARAMETER.findall(statement) if name in params}
    return con.execute(statement, used)


def run_statements(con: duckdb.DuckDBPyConnection, path: str, params: Mapping[str, object]) -> int:
    """Runs a file under sql/bench in the current transaction; its first statement's row count."""
    first, *rest = bench_sql(path)
    row = _execute(con, first, params).fetchone()
    for statement in rest:
        _execute(con, statement, params)
    return int(row[0]) if row else 0


def _run_script(con: duckdb.DuckDBPyConnection, path: str, params: Mapping[str, object]) -> int:
    """Runs a file under sql/bench as one transaction; returns its first statement's row count."""
    con.execute("BEGIN TRANSACTION")
    try:
        rows = run_statements(con, path, params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return rows


def create_database(database: Path, config: Mapping[str, object], schemas: list[str]) -> None:
    """Creates a yardstick's file with the tables and views of SCHEMAS (files under sql/bench)."""
    with duckdb.connect(str(database), config=dict(config)) as con:
        for path in schemas:
            for statement in bench_sql(path):
                con.execute(statement)


class Load:
    """One load's connection and its stages; open and close are stages too (close checkpoints).

    Used as a context manager: on exit the connection closes and `stages` holds them all.
    """

    def __init__(self, database: Path, config: Mapping[str, object]) -> None:
        with measured() as self._opening:
            self.con = duckdb.connect(str(database), config=dict(config))
        self.captured = 0
        self.stages: list[Stage] = []

    def stage(self, name: str, work: Callable[[], int], rows: int | None = None) -> int:
        """Measures WORK as stage NAME, whose rows are ROWS or else what WORK returns."""
        with measured() as cost:
            result = work()
        self.stages.append(Stage.of(name, result if rows is None else rows, cost))
        return result

    def script(
        self, name: str, path: str, params: Mapping[str, object], rows: int | None = None
    ) -> int:
        """A file under sql/bench as its own transaction, measured as stage NAME."""
        return self.stage(name, lambda: _run_script(self.con, path, params), rows)

    def statements(
        self, name: str, path: str, params: Mapping[str, object], rows: int | None = None
    ) -> int:
        """A file under sql/bench inside the transaction in progress, measured as stage NAME."""
        return self.stage(name, lambda: run_statements(self.con, path, params), rows)

    def capture(self, warehouse: Path, path: str, params: Mapping[str, object]) -> int:
        """Copies the landing table from the warehouse file, attached only while it copies."""

        def copy() -> int:
            self.con.execute(
                f"ATTACH $path AS {WAREHOUSE_ALIAS} (READ_ONLY)", {"path": str(warehouse)}
            )
            try:
                return _run_script(self.con, path, params)
            finally:
                self.con.execute(f"DETACH {WAREHOUSE_ALIAS}")

        self.captured = self.stage("capture", copy)
        return self.captured

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with measured() as closing:
            self.con.close()
        self.stages = [
            Stage.of("open", self.captured, self._opening),
            *self.stages,
            Stage.of("close (checkpoint)", self.captured, closing),
        ]


def users_stages(load: Load, day: date, warehouse: Path, at_view: str) -> None:
    """Takes the warehouse's landing users snapshot as DAY's through every users stage: capture,
    change detection, SCD2 history, the current-postcode move, the at-view re-attribution (the
    script AT_VIEW)."""
    params = {"day": datetime.combine(day, time())}
    captured = load.capture(warehouse, "users_capture.sql", params)
    changed = load.script("change detection", "users_change_detection.sql", params, rows=captured)
    load.script("history", "users_history.sql", params, rows=changed)
    load.script("current-postcode delta", "users_current_postcode_delta.sql", params, rows=changed)
    load.script("at-view re-attribution", at_view, params, rows=changed)


class Baseline:
    """The algorithmic baseline: the pipeline's algorithm in plain SQL, every identity of a load
    looked up in the fact; its own file, one connection per load like a scheduled script."""

    schemas = ["schema.sql"]
    at_view_reattribution = "users_at_view_reattribution.sql"

    def __init__(self, database: Path, config: Mapping[str, object], start_date: date) -> None:
        self.database = database
        self._config = dict(config)
        self._start = datetime.combine(start_date, time())

    def create(self) -> None:
        create_database(self.database, self._config, self.schemas)

    def users(self, day: date, warehouse: Path) -> list[Stage]:
        """Takes the warehouse's landing users snapshot as DAY's through every users stage."""
        with Load(self.database, self._config) as load:
            users_stages(load, day, warehouse, self.at_view_reattribution)
        return load.stages

    def pageviews(self, hour: datetime, warehouse: Path) -> list[Stage]:
        """Takes the warehouse's landing pageviews load as HOUR's through every pageview stage."""
        params = {"load_hour": hour, "start_date": self._start}
        with Load(self.database, self._config) as load:
            captured = load.capture(warehouse, "pageviews_capture.sql", params)
            changed = load.script(
                "dedup + attribution", "pageviews_dedup_attribution.sql", params, rows=captured
            )
            load.script("aggregates", "pageviews_aggregates.sql", params, rows=changed)
        return load.stages
