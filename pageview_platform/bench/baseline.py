"""The pipeline's work in plain DuckDB SQL, no Dagster: the yardstick the bench compares with.

It keeps its own database file (same memory limit and threads as the warehouse), copies each
landing load from the warehouse file attached read-only, and maintains the same tables
incrementally: postcode history, fact, both hourly aggregates, and the six BI views. Loads
arrive in order, as the bench lands them; bad rows are skipped by a WHERE, not quarantined.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path

import duckdb

from pageview_platform.bench.measure import DuckDbMemory, Stage, measured
from pageview_platform.warehouse.session import execute
from pageview_platform.warehouse.sql import read_sql, split_statements

# The name the SQL files give the warehouse file while a capture reads its landing table.
WAREHOUSE_ALIAS = "warehouse"


def _run_script(con: duckdb.DuckDBPyConnection, path: str, params: Mapping[str, object]) -> int:
    """Runs a file under sql/bench as one transaction; returns its first statement's row count."""
    first, *rest = split_statements(read_sql(f"bench/{path}"))
    con.execute("BEGIN TRANSACTION")
    try:
        row = execute(con, first, params).fetchone()
        for statement in rest:
            execute(con, statement, params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(row[0]) if row else 0


class _Load:
    """One load's connection and its stages; open and close are stages too (close checkpoints).

    Used as a context manager: on exit the connection closes and `stages` holds them all.
    """

    def __init__(self, database: Path, config: Mapping[str, object]) -> None:
        with measured() as self._opening:
            self.con = duckdb.connect(str(database), config=dict(config))
        self.memory = DuckDbMemory(self.con)
        self.captured = 0
        self.stages: list[Stage] = []

    def stage(self, name: str, work: Callable[[], int], rows: int | None = None) -> int:
        """Measures WORK as stage NAME, whose rows are ROWS or else what WORK returns."""
        with measured(self.memory) as cost:
            result = work()
        self.stages.append(Stage.of(name, result if rows is None else rows, cost))
        return result

    def script(
        self, name: str, path: str, params: Mapping[str, object], rows: int | None = None
    ) -> int:
        return self.stage(name, lambda: _run_script(self.con, path, params), rows)

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

    def __enter__(self) -> _Load:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The sampler's cursor would keep the database open past the close being measured.
        self.memory.close()
        with measured() as closing:
            self.con.close()
        self.stages = [
            Stage.of("open", self.captured, self._opening),
            *self.stages,
            Stage.of("close (checkpoint)", self.captured, closing),
        ]


class Baseline:
    """Plain-SQL ingestion into its own file, one connection per load like a scheduled script."""

    def __init__(self, database: Path, config: Mapping[str, object], start_date: date) -> None:
        self.database = database
        self._config = dict(config)
        self._start = datetime.combine(start_date, time())
        with duckdb.connect(str(database), config=self._config) as con:
            for statement in split_statements(read_sql("bench/schema.sql")):
                con.execute(statement)

    def users(self, day: date, warehouse: Path) -> list[Stage]:
        """Takes the warehouse's landing users snapshot as DAY's through every users stage."""
        params = {"day": datetime.combine(day, time())}
        with _Load(self.database, self._config) as load:
            captured = load.capture(warehouse, "users_capture.sql", params)
            changed = load.script(
                "change detection", "users_change_detection.sql", params, rows=captured
            )
            load.script("history", "users_history.sql", params, rows=changed)
            load.script(
                "current-postcode delta", "users_current_postcode_delta.sql", params, rows=changed
            )
            load.script(
                "at-view re-attribution", "users_at_view_reattribution.sql", params, rows=changed
            )
        return load.stages

    def pageviews(self, hour: datetime, warehouse: Path) -> list[Stage]:
        """Takes the warehouse's landing pageviews load as HOUR's through every pageview stage."""
        params = {"load_hour": hour, "start_date": self._start}
        with _Load(self.database, self._config) as load:
            captured = load.capture(warehouse, "pageviews_capture.sql", params)
            changed = load.script(
                "dedup + attribution", "pageviews_dedup_attribution.sql", params, rows=captured
            )
            load.script("aggregates", "pageviews_aggregates.sql", params, rows=changed)
        return load.stages
