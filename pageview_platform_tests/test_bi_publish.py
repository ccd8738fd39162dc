"""The published BI database: the bi views' answers in a file BI tools hold open read-only, which
every run that changes the answers replaces whole, never waiting for a reader nor failing one."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from pageview_platform.settings import get_settings
from pageview_platform.warehouse import publish as publishing
from pageview_platform.warehouse.publish import BI_VIEWS, publish
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform, platform_at

# Where the DuckDB 1.x client lives: outside the repository, kept between runs.
DUCKDB_1 = "1.1.3"
DUCKDB_1_VENV = Path.home() / ".cache" / "pageview_platform" / f"duckdb-{DUCKDB_1}"


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute)


@dataclass
class Scenario:
    """One platform shared by the module's tests, and every event ingested into it so far."""

    platform: Platform
    bi_database: Path
    events: list[oracle.Event] = field(default_factory=list)

    def ingest(self, event: oracle.Event) -> float:
        """Lands and ingests EVENT; returns the ingest's wall seconds, checking it never waited."""
        kind, key, rows = event
        output = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            if kind == "users":
                self.platform.land_users(rows)
                self.platform.ingest_users(key)
            else:
                self.platform.land_pageviews(rows)
                self.platform.ingest_pageviews(key)
        seconds = time.perf_counter() - started
        assert "busy" not in output.getvalue(), output.getvalue()
        self.events.append(event)
        return seconds


def published(path: Path) -> dict[str, set[tuple[datetime, str, int]]]:
    """Every row of the published tables, by view name as the warehouse spells it."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            f"bi.{name}": set(con.execute(f"SELECT * FROM bi.{name}").fetchall())
            for name in BI_VIEWS
        }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    with platform_at(tmp_path_factory.mktemp("bi_publish")) as p:
        shared = Scenario(p, get_settings().bi_duckdb_path)
        shared.ingest(("users", t(1, 0).date(), [(1, " sw1a  1aa "), (2, "EC1A 1BB")]))
        shared.ingest(
            (
                "pageviews",
                t(1, 10),
                [(1, "/a", t(1, 10, 5))] * 2 + [(2, "/b", t(1, 10, 30)), (3, "/c", t(1, 10, 40))],
            )
        )
        yield shared


def test_published_tables_hold_the_bi_views_answers(scenario: Scenario) -> None:
    p = scenario.platform
    assert scenario.bi_database == p.warehouse.with_name("bi.duckdb")
    tables = published(scenario.bi_database)
    assert tables == p.views()
    assert tables == oracle.expected_views(scenario.events)
    with duckdb.connect(str(scenario.bi_database), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type, comment FROM duckdb_columns()"
            " WHERE database_name = 'bi' ORDER BY table_name, column_index"
        ).fetchall()
        (latest_load, latest_snapshot) = con.execute(
            "SELECT latest_load_hour, latest_snapshot_date FROM bi.publication"
        ).fetchone()
        table_comments = dict(
            con.execute("SELECT table_name, comment FROM duckdb_tables()").fetchall()
        )
    assert (latest_load, latest_snapshot) == (t(1, 10), t(1, 0))
    for name in BI_VIEWS:
        described = [(c, d) for table, c, d, _ in columns if table == name]
        assert described == [
            ("period_start", "TIMESTAMP"),
            ("postcode", "VARCHAR"),
            ("pageviews", "BIGINT"),
        ]
    # Every table and column says what it holds, in the words of the warehouse's views.
    assert all(comment for *_, comment in columns)
    assert all(table_comments.values()) and len(table_comments) == len(BI_VIEWS) + 1
    view_comment = p.query(
        "SELECT comment FROM duckdb_views() WHERE view_name = 'pageviews_by_current_postcode_daily'"
    )
    assert table_comments["pageviews_by_current_postcode_daily"] == view_comment[0][0]


def test_duckdb_1_clients_read_the_published_file(scenario: Scenario) -> None:
    python = DUCKDB_1_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DUCKDB_1_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"duckdb=={DUCKDB_1}"], check=True
        )
    read = (
        "import duckdb, json, sys;"
        "con = duckdb.connect(sys.argv[1], read_only=True);"
        "print(json.dumps([duckdb.__version__, con.execute("
        "'SELECT postcode, sum(pageviews) FROM bi.pageviews_by_postcode_at_view_daily"
        " GROUP BY postcode ORDER BY postcode').fetchall()]))"
    )
    result = subprocess.run(
        [str(python), "-c", read, str(scenario.bi_database)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    version, rows = json.loads(result.stdout)
    assert version == DUCKDB_1
    assert rows == [["EC1A 1BB", 1], ["SW1A 1AA", 2], ["UNKNOWN", 1]]


def test_a_failed_publish_leaves_the_published_file_as_it_was(scenario: Scenario) -> None:
    target = scenario.bi_database
    before = target.read_bytes()
    with duckdb.connect(str(scenario.platform.warehouse)) as con:
        # Nothing changed since the last publish: the file is left as it is.
        unchanged = publish(con, target)
        assert (unchanged.how, unchanged.rows_written) == ("unchanged", 0)
        assert target.read_bytes() == before
        # An hour recorded as changed (as a writer records it), and a publish that fails.
        con.execute(
            "INSERT INTO ops.bi_unpublished_hours SELECT 'current_postcode', max(pageview_hour)"
            " FROM agg.pageviews_by_current_postcode_hourly"
        )
        with (
            mock.patch.object(publishing, "_comments", side_effect=RuntimeError("disk full")),
            pytest.raises(RuntimeError, match="disk full"),
        ):
            publish(con, target)
        assert target.read_bytes() == before
        assert sorted(f.name for f in target.parent.iterdir() if ".tmp" in f.name) == []
        # The failed publish let go of what it attached, and the hour is still to publish.
        with mock.patch.object(publishing, "REWRITE_SHARE", math.inf):
            again = publish(con, target)
        assert again.how == "patch" and again.rows_written > 0
    assert published(target) == scenario.platform.views()


def test_a_publish_over_a_file_it_cannot_use_writes_a_new_one(scenario: Scenario) -> None:
    target = scenario.bi_database
    with duckdb.connect(str(scenario.platform.warehouse)) as con:
        # Not a DuckDB file (a half-copied download, say): replaced whole.
        target.write_bytes(b"not a database")
        assert publish(con, target).how == "new file"
        # A DuckDB file without the publisher's bookkeeping: replaced whole too.
        target.unlink()
        duckdb.connect(str(target)).close()
        assert publish(con, target).how == "new file"
        # The file of an earlier publish, restored over the last one: it misses what changed
        # since, which the warehouse no longer lists, so it is replaced whole as well.
        earlier = target.read_bytes()
        con.execute(
            "UPDATE agg.pageviews_by_current_postcode_daily SET pageviews = pageviews + 5;"
            "INSERT INTO ops.bi_unpublished_hours SELECT 'current_postcode', pageview_hour"
            " FROM agg.pageviews_by_current_postcode_hourly"
        )
        try:
            with mock.patch.object(publishing, "REWRITE_SHARE", math.inf):
                assert publish(con, target).how == "patch"
            assert published(target) == _views(con)
            target.write_bytes(earlier)
            assert publish(con, target).how == "new file"
            assert published(target) == _views(con)
        finally:
            con.execute(
                "UPDATE agg.pageviews_by_current_postcode_daily SET pageviews = pageviews - 5;"
                "INSERT INTO ops.bi_unpublished_hours"
                " SELECT 'current_postcode', pageview_hour"
                " FROM agg.pageviews_by_current_postcode_hourly"
            )
            publish(con, target)
    assert published(target) == scenario.platform.views()


def _views(con: duckdb.DuckDBPyConnection) -> dict[str, set[tuple[datetime, str, int]]]:
    """The warehouse's bi views, read on CON."""
    return {
        f"bi.{name}": set(con.execute(f"SELECT * FROM bi.{name}").fetchall()) for name in BI_VIEWS
    }


# A BI tool in another process, with one connection held open throughout (HELD) or one per
# query. Each query reads every table's total and postcodes, and the publication's load, in one
# statement; it
# prints them (or its error) as a JSON line until the file STOP appears, then reads once more
# on a new connection. (In one process, DuckDB shares the database of a path among connections
# while one is open: a held connection would also hold back the process's new ones.)
READER = """
import duckdb, json, os, sys, time
path, stop, held = sys.argv[1], sys.argv[2], sys.argv[3] == "held"
tables = sys.argv[4].split(",")
query = "SELECT " + ", ".join(
    [f"(SELECT sum(pageviews) || ' ' || string_agg(DISTINCT postcode, ',' ORDER BY postcode)"
     f" FROM bi.{t})" for t in tables]
    + ["(SELECT strftime(latest_load_hour, '%Y-%m-%dT%H') FROM bi.publication)"]
)
def read(con):
    try:
        return {"row": list(con.execute(query).fetchone())}
    except Exception as error:
        return {"error": repr(error)}
con = duckdb.connect(path, read_only=True)
while not os.path.exists(stop):
    print(json.dumps(read(con)), flush=True)
    if not held:
        con.close()
        con = duckdb.connect(path, read_only=True)
    time.sleep(0.01)
con.close()
print(json.dumps(read(duckdb.connect(path, read_only=True))), flush=True)
"""


def _state(path: Path) -> list[object]:
    """What READER reads from the published file now."""
    tables = published(path)
    with duckdb.connect(str(path), read_only=True) as con:
        (load,) = con.execute(
            "SELECT strftime(latest_load_hour, '%Y-%m-%dT%H') FROM bi.publication"
        ).fetchone()
    totals = [
        f"{sum(row[2] for row in rows)} {','.join(sorted({row[1] for row in rows}))}"
        for rows in (tables[f"bi.{name}"] for name in BI_VIEWS)
    ]
    return [*totals, load]


def test_readers_holding_the_file_never_delay_an_ingest_nor_see_half_of_one(
    scenario: Scenario, tmp_path: Path
) -> None:
    target = scenario.bi_database
    states = [_state(target)]
    stop = tmp_path / "stop"
    readers = {
        mode: subprocess.Popen(
            [sys.executable, "-c", READER, str(target), str(stop), mode, ",".join(BI_VIEWS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("held", "per_query")
    }
    try:
        # Both readers hold the file before the first ingest starts.
        for reader in readers.values():
            assert json.loads(reader.stdout.readline())["row"] == states[0]
        for event in (
            ("pageviews", t(1, 11), [(1, "/a", t(1, 11, 1)), (4, "/d", t(1, 11, 2))]),
            ("users", t(2, 0).date(), [(1, "W1A 0AA"), (2, "EC1A 1BB")]),
        ):
            # Far below the minute an ingest waits for the lock on a file a reader holds.
            assert scenario.ingest(event) < 30
            states.append(_state(target))
    finally:
        stop.touch()
        outputs = {mode: reader.communicate(timeout=60) for mode, reader in readers.items()}
    assert len({tuple(state) for state in states}) == len(states), "an ingest changed nothing"
    for mode, (out, err) in outputs.items():
        assert readers[mode].returncode == 0, err
        *reads, reconnected = [json.loads(line) for line in out.splitlines()]
        assert [read for read in reads if "error" in read] == [], mode
        seen = [read["row"] for read in reads]
        # Every read is one published state: the held connection the one it opened.
        assert all(row in (states[:1] if mode == "held" else states) for row in seen), mode
        assert reconnected["row"] == states[-1], mode
    assert published(target) == oracle.expected_views(scenario.events)
