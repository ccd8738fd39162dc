"""The write path of every asset: one transaction, by column name, inside the partition."""

import subprocess
import sys
import time
from datetime import date, datetime
from itertools import count
from pathlib import Path

import duckdb
import pytest
from dagster import DailyPartitionsDefinition, asset, materialize

from pageview_platform.assets.partitions import window
from pageview_platform.assets.sql_asset import write_partition
from pageview_platform.warehouse import duckdb as duckdb_warehouse
from pageview_platform.warehouse.duckdb import DuckDBWarehouse, connect
from pageview_platform.warehouse.sql import split_statements

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC", end_offset=1)
CONFIG = {"threads": 1}
_files = count()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "io.duckdb"
    with connect(path, CONFIG, date(2024, 1, 1)) as con:
        con.execute("CREATE TABLE core.sample (day TIMESTAMP NOT NULL, name VARCHAR, n BIGINT)")
    return path


def _warehouse(path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(database=str(path), connection_config=CONFIG, start_date="2024-01-01")


def _rows(path: Path) -> list[tuple]:
    with connect(path, CONFIG, date(2024, 1, 1)) as con:
        return con.execute("SELECT day, name, n FROM core.sample ORDER BY day, name").fetchall()


def _sql_file(path: Path, sql: str) -> str:
    """SQL as a file, as the assets name theirs (an absolute path reads from outside sql/)."""
    file = path.parent / f"statement_{next(_files)}.sql"
    file.write_text(sql + ";\n", encoding="utf-8")
    return str(file)


def _sample_asset(path: Path, sql: str, after: tuple[str, ...] = (), partition_column: str = "day"):
    select = _sql_file(path, sql)
    scripts = tuple(_sql_file(path, script) for script in after)

    @asset(key=["core", "sample"], partitions_def=DAYS)
    def sample(context, warehouse: DuckDBWarehouse):
        return write_partition(
            warehouse, ["core", "sample"], partition_column, window(context), select, scripts
        )

    return sample


def _materialize(path: Path, assets_def, key: str = "2024-01-02", raise_on_error: bool = True):
    return materialize(
        [assets_def],
        partition_key=key,
        resources={"warehouse": _warehouse(path)},
        raise_on_error=raise_on_error,
    )


def test_write_replaces_its_partition_and_keeps_the_others(warehouse: Path) -> None:
    first = _sample_asset(warehouse, "SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n")
    _materialize(warehouse, first, "2024-01-01")
    _materialize(warehouse, first, "2024-01-02")
    second = _sample_asset(
        warehouse, "SELECT CAST($start AS TIMESTAMP) AS day, 'b' AS name, 2 AS n"
    )
    _materialize(warehouse, second, "2024-01-02")
    assert _rows(warehouse) == [(datetime(2024, 1, 1), "a", 1), (datetime(2024, 1, 2), "b", 2)]


def test_columns_are_matched_by_name_not_position(warehouse: Path) -> None:
    reordered = _sample_asset(
        warehouse, "SELECT 7 AS n, 'x' AS name, CAST($start AS TIMESTAMP) AS day"
    )
    _materialize(warehouse, reordered)
    assert _rows(warehouse) == [(datetime(2024, 1, 2), "x", 7)]


def test_failed_write_leaves_the_previous_partition(warehouse: Path) -> None:
    good = _sample_asset(warehouse, "SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n")
    _materialize(warehouse, good)
    failing = _sample_asset(
        warehouse,
        "SELECT CAST($start AS TIMESTAMP) AS day, 'b' AS name, 2 AS n",
        after=("SELECT CAST('not a number' AS INTEGER)",),
    )
    result = _materialize(warehouse, failing, raise_on_error=False)
    assert not result.success
    assert _rows(warehouse) == [(datetime(2024, 1, 2), "a", 1)]


def test_rows_outside_the_partition_fail_the_write(warehouse: Path) -> None:
    leaking = _sample_asset(
        warehouse, "SELECT CAST('2024-01-05' AS TIMESTAMP) AS day, 'x' AS name, 1 AS n"
    )
    result = _materialize(warehouse, leaking, raise_on_error=False)
    assert not result.success
    assert _rows(warehouse) == []


def test_wrong_partition_column_fails_instead_of_duplicating(warehouse: Path) -> None:
    wrong = _sample_asset(
        warehouse,
        "SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n",
        partition_column="no_such",
    )
    assert not _materialize(warehouse, wrong, raise_on_error=False).success
    assert _rows(warehouse) == []


def test_empty_select_empties_the_partition(warehouse: Path) -> None:
    _materialize(
        warehouse,
        _sample_asset(warehouse, "SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n"),
    )
    empty = _sample_asset(
        warehouse, "SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n WHERE 0 = 1"
    )
    assert _materialize(warehouse, empty).success
    assert _rows(warehouse) == []


def test_split_statements_drops_comments_and_blank_statements() -> None:
    script = "-- heading\nCREATE TABLE a (x INT);\n\n-- note\nCREATE VIEW b AS\nSELECT 1;\n"
    assert split_statements(script) == ["CREATE TABLE a (x INT)", "CREATE VIEW b AS\nSELECT 1"]


def test_a_process_deploys_the_schema_only_when_its_scripts_or_start_date_differ(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ingest process connects once: it runs the schema scripts only when they changed since
    the last deploy (their hash) or its start date is another; otherwise it touches nothing."""
    deploys: list[date] = []
    real = duckdb_warehouse.deploy_schema

    def counted(connection, start_date: date, landing: bool = False) -> None:  # noqa: ANN001
        deploys.append(start_date)
        real(connection, start_date, landing)

    monkeypatch.setattr(duckdb_warehouse, "deploy_schema", counted)

    def new_process(start_date: date = date(2024, 1, 1)) -> None:
        monkeypatch.setattr(duckdb_warehouse, "_deployed", set())
        connect(warehouse, CONFIG, start_date).close()

    new_process()
    assert deploys == []
    new_process(date(2024, 1, 2))
    assert deploys == [date(2024, 1, 2)]
    new_process(date(2024, 1, 2))
    assert deploys == [date(2024, 1, 2)]
    monkeypatch.setattr(duckdb_warehouse, "schema_hash", lambda _root: "changed scripts")
    new_process(date(2024, 1, 2))
    assert deploys == [date(2024, 1, 2)] * 2
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("SELECT ddl_hash FROM ops.schema_deployment").fetchall() == [
            ("changed scripts",)
        ]


def test_a_writer_waits_for_another_process_to_release_the_file(warehouse: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True);"
            " print('holding', flush=True); time.sleep(2)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    with connect(warehouse, CONFIG, date(2024, 1, 1)) as con:
        waited = time.monotonic() - started
        con.execute("INSERT INTO core.sample VALUES ('2024-01-01', 'x', 1)")
    holder.wait()
    assert waited > 0.5, "the holder's shared lock should have made the writer wait"
    assert _rows(warehouse) == [(datetime(2024, 1, 1), "x", 1)]
