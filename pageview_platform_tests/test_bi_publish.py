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
        # An hour and a cell recorded as changed (as writers record them), and a publish that
        # fails.
        con.execute(
            "INSERT INTO ops.bi_unpublished_hours SELECT 'current_postcode', max(pageview_hour)"
            " FROM agg.pageviews_by_current_postcode_hourly;"
            "INSERT INTO ops.bi_unpublished_cells (answer, grain, period_start, postcode)"
            " SELECT 'postcode_at_view', 'hourly', pageview_hour, postcode"
            " FROM agg.pageviews_by_postcode_at_view_hourly LIMIT 1"
        )
        pending = (
            "SELECT (SELECT count(*) FROM ops.bi_unpublished_hours),"
            " (SELECT count(*) FROM ops.bi_unpublished_cells)"
        )
        compression = "SELECT current_setting('disabled_compression_methods')"
        while_writing = []

        def disk_full(con: duckdb.DuckDBPyConnection) -> list[str]:
            while_writing.append(con.execute(compression).fetchone()[0])
            raise RuntimeError("disk full")

        with (
            mock.patch.object(publishing, "_comments", side_effect=disk_full),
            pytest.raises(RuntimeError, match="disk full"),
        ):
            publish(con, target)
        assert target.read_bytes() == before
        # The file was written without trying dictionary compression, and the instance's
        # setting is back to its default for the warehouse's own writes.
        assert [method.lower() for method in while_writing] == ["dictionary"]
        assert con.execute(compression).fetchone() == ("",)
        assert sorted(f.name for f in target.parent.iterdir() if ".tmp" in f.name) == []
        # The failed publish let go of what it attached, and both are still to publish.
        assert con.execute(pending).fetchone() == (1, 1)
        with mock.patch.object(publishing, "REWRITE_SHARE", math.inf):
            again = publish(con, target)
        assert again.how == "patch" and again.rows_written > 0
        assert con.execute(pending).fetchone() == (0, 0)
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


# A count no publish writes: planted in the published file, it stays where a patch leaves the
# row alone and goes back to the views' count where a patch rewrites the row.
SENTINEL = 999


def _plant(path: Path, rows: list[tuple[str, datetime, str]]) -> None:
    """Sets the published file's rows named (table, period_start, postcode) to SENTINEL."""
    with duckdb.connect(str(path)) as con:
        for table, period, postcode in rows:
            (updated,) = con.execute(
                f"UPDATE bi.{table} SET pageviews = $count"
                " WHERE period_start = $period AND postcode = $postcode",
                {"count": SENTINEL, "period": period, "postcode": postcode},
            ).fetchone()
            assert updated == 1, (table, period, postcode)


def _with_sentinels(
    views: dict[str, set[tuple[datetime, str, int]]], rows: list[tuple[str, datetime, str]]
) -> dict[str, set[tuple[datetime, str, int]]]:
    """VIEWS with the rows named (table, period_start, postcode) holding SENTINEL instead."""
    planted = {name: set(held) for name, held in views.items()}
    for table, period, postcode in rows:
        held = planted[f"bi.{table}"]
        (row,) = [row for row in held if row[:2] == (period, postcode)]
        held.remove(row)
        held.add((period, postcode, SENTINEL))
    return planted


@contextlib.contextmanager
def _recorded_publishes() -> Iterator[list[publishing.Publication]]:
    """Every Publication the runs inside the block return, in order."""
    publications: list[publishing.Publication] = []
    real = publishing.publish

    def recording(
        con: duckdb.DuckDBPyConnection, target: Path, spare: str = "on"
    ) -> publishing.Publication:
        publications.append(real(con, target, spare))
        return publications[-1]

    with mock.patch.object(publishing, "publish", recording):
        yield publications


def test_a_patch_rewrites_the_changed_cells_and_no_other_row_of_their_periods(
    tmp_path: Path,
) -> None:
    january, february = datetime(2024, 1, 1), datetime(2024, 2, 1)
    # Patches of a copy of the published file, where the sentinels are planted (a patch of the
    # spare also rewrites the last publish's changes: the spare's tests below).
    with (
        platform_at(tmp_path) as p,
        mock.patch.object(publishing, "REWRITE_SHARE", math.inf),
        mock.patch.dict("os.environ", {"PAGEVIEW_BI_SPARE": "off"}),
    ):
        shared = Scenario(p, get_settings().bi_duckdb_path)
        target = shared.bi_database
        # Six users in six postcodes: a change to one or two of them is a few cells of each
        # period (a period with as many changed cells as half its rows is rewritten whole).
        users = [
            (1, "SW1A 1AA"),
            (2, "EC1A 1BB"),
            (3, "W1A 0AA"),
            (4, "E1 6AN"),
            (5, "M1 1AE"),
            (6, "B1 1BB"),
        ]
        shared.ingest(("users", t(31, 0).date(), users))
        shared.ingest(("pageviews", t(31, 22), [(n, f"/{n}", t(31, 22, n)) for n, _ in users]))
        shared.ingest(("pageviews", t(31, 23), [(2, "/b", t(31, 23, 6))]))
        # User 2's rows in hour 22, its day and its month, in both answers: a late row of user
        # 1's in hour 22 changes none of them, and a rewrite of the whole hour would.
        untouched = [
            (f"pageviews_by_{answer}_{grain}", period, "EC1A 1BB")
            for answer in ("postcode_at_view", "current_postcode")
            for grain, period in (("hourly", t(31, 22)), ("daily", t(31, 0)), ("monthly", january))
        ]
        _plant(target, untouched)

        # The first load of February (user 3), carrying a late row of user 1's in hour 22 of
        # January 31: its own hour is recorded whole (every row of it is new), with its day and
        # month; the late row as cells.
        with _recorded_publishes() as publications:
            shared.ingest(
                (
                    "pageviews",
                    february,
                    [(1, "/late", t(31, 22, 50)), (3, "/c", datetime(2024, 2, 1, 0, 1))],
                )
            )
        (late,) = publications
        # Per answer: SW1A 1AA in hour 22, its day and its month; W1A 0AA in February's.
        assert (late.how, late.rows_written) == ("patch", 12)
        assert published(target) == _with_sentinels(p.views(), untouched)
        assert p.views() == oracle.expected_views(shared.events)

        # A snapshot moving user 3: W1A 0AA's current-postcode rows go to 0 views and leave the
        # file (the views hide them), N1 9GU's arrive; nothing of user 2's is rewritten.
        with _recorded_publishes() as publications:
            shared.ingest(("users", february.date(), [*users[:2], (3, "N1 9GU"), *users[3:]]))
        (moved,) = publications
        assert moved.how == "patch"
        assert published(target) == _with_sentinels(p.views(), untouched)
        assert p.views() == oracle.expected_views(shared.events)
        assert not any(
            postcode == "W1A 0AA"
            for name, rows in published(target).items()
            if "current_postcode" in name
            for _, postcode, _ in rows
        )

        with duckdb.connect(str(p.warehouse)) as con:
            # A current-postcode month's cell (a re-attribution's before the window) rewrites
            # the month's row alone, not the postcode's rows of the month's hours and days (nor
            # the month's first hour and day, by which months used to be recorded).
            hour_and_day = [
                ("pageviews_by_current_postcode_hourly", t(31, 22), "SW1A 1AA"),
                ("pageviews_by_current_postcode_daily", t(31, 0), "SW1A 1AA"),
            ]
            month_row = ("pageviews_by_current_postcode_monthly", january, "SW1A 1AA")
            _plant(target, [*hour_and_day, month_row])
            con.execute(
                "INSERT INTO ops.bi_unpublished_cells (answer, grain, period_start, postcode)"
                " VALUES ('current_postcode', 'monthly', $month, 'SW1A 1AA')",
                {"month": january},
            )
            month = publish(con, target, "off")
            assert (month.how, month.rows_written) == ("patch", 1)
            assert published(target) == _with_sentinels(_views(con), [*untouched, *hour_and_day])

            # A whole hour (as a rebuilt load records it) rewrites every row of the hour, its
            # day and its month: the sentinels are gone, so they could not pass unseen.
            con.execute(
                "INSERT INTO ops.bi_unpublished_hours"
                " VALUES ('postcode_at_view', $hour), ('current_postcode', $hour)",
                {"hour": t(31, 22)},
            )
            assert publish(con, target, "off").how == "patch"
            assert published(target) == _views(con) == oracle.expected_views(shared.events)


def test_the_share_of_rows_the_changes_name_decides_between_a_patch_and_a_new_file(
    tmp_path: Path,
) -> None:
    with platform_at(tmp_path) as p:
        shared = Scenario(p, get_settings().bi_duckdb_path)
        users = [(n, f"AB{n} 1CD") for n in range(1, 7)]
        shared.ingest(("users", t(1, 0).date(), users))
        for hour in (8, 9, 10, 11):
            shared.ingest(("pageviews", t(1, hour), [(n, "/a", t(1, hour, n)) for n, _ in users]))
        with _recorded_publishes() as publications:
            # A load of one user's view in its own hour (1 hour of 5, recorded whole) and a late
            # row (a cell, naming 3 of the 72 rows in each answer): a patch.
            shared.ingest(
                ("pageviews", t(1, 12), [(1, "/late", t(1, 10, 50)), (2, "/b", t(1, 12, 1))])
            )
            # A snapshot moving every user moves every current-postcode row: a new file.
            shared.ingest(("users", t(2, 0).date(), [(n, f"CD{n} 1AB") for n, _ in users]))
        assert [publication.how for publication in publications] == ["patch", "new file"]
        assert published(shared.bi_database) == oracle.expected_views(shared.events)


@contextlib.contextmanager
def _spare_scenario(tmp_path: Path, mode: str) -> Iterator[Scenario]:
    """A platform publishing with PAGEVIEW_BI_SPARE=MODE, after a snapshot and two loads (a new
    file, then a patch of a copy, which keeps the file it replaced as the spare). Its files are
    tiny, where most loads change half of one: every publish after the first patches here."""
    with (
        platform_at(tmp_path),
        mock.patch.dict("os.environ", {"PAGEVIEW_BI_SPARE": mode}),
        mock.patch.object(publishing, "REWRITE_SHARE", math.inf),
    ):
        shared = Scenario(Platform(tmp_path / "warehouse.duckdb"), get_settings().bi_duckdb_path)
        shared.ingest(("users", t(1, 0).date(), [(n, f"AB{n} 1CD") for n in range(1, 5)]))
        for hour in (8, 9):
            shared.ingest(("pageviews", t(1, hour), [(n, "/a", t(1, hour, n)) for n in (1, 2)]))
        yield shared


def _pageviews(hour: int, users: tuple[int, ...] = (1, 2, 3), late: int | None = None):
    """A load of HOUR on day 1 by USERS, with a late row of user 4's in hour LATE."""
    rows = [(n, f"/{hour}", t(1, hour, n)) for n in users]
    return ("pageviews", t(1, hour), rows + ([(4, "/late", t(1, late, 30))] if late else []))


def test_a_publish_patches_the_spare_with_the_last_publishs_changes_and_its_own(
    tmp_path: Path,
) -> None:
    with _spare_scenario(tmp_path, "on") as shared:
        target = shared.bi_database
        spare = publishing.spare_path(target)
        with _recorded_publishes() as publications:
            for event in (_pageviews(10, late=8), _pageviews(11, late=9), _pageviews(12)):
                shared.ingest(event)
                # The file at the path is whole and up to date after every publish, and the
                # spare is the one it replaced.
                assert published(target) == oracle.expected_views(shared.events)
                assert spare.exists() and spare.stat().st_ino != target.stat().st_ino
            shared.ingest(("users", t(2, 0).date(), [(1, "CD1 1AB"), (2, "AB2 1CD")]))
            assert published(target) == oracle.expected_views(shared.events)
        assert [(p.how, p.base) for p in publications] == [("patch", "spare")] * 4
        # No staged file is left behind.
        assert [f.name for f in target.parent.iterdir() if ".tmp" in f.name] == []


def test_a_cell_two_loads_change_in_a_row_is_published_with_its_latest_value(
    tmp_path: Path,
) -> None:
    """Each load's late row raises the same cell (hour 8, user 4's postcode), which every
    publish writes from the value recorded with it. Patching the spare applies the last
    publish's cells and its own: the cell both name takes this publish's value, the one the
    aggregate holds now, not the last publish's."""
    with _spare_scenario(tmp_path, "on") as shared:
        target = shared.bi_database
        with _recorded_publishes() as publications:
            for hour, minute in ((10, 30), (11, 40), (12, 50)):
                rows = [(n, f"/{hour}", t(1, hour, n)) for n in (1, 2, 3)]
                shared.ingest(("pageviews", t(1, hour), [*rows, (4, "/late", t(1, 8, minute))]))
                assert published(target) == oracle.expected_views(shared.events)
        assert [(p.how, p.base) for p in publications] == [("patch", "spare")] * 3
        with duckdb.connect(str(target), read_only=True) as con:
            cell = con.execute(
                "SELECT pageviews FROM bi.pageviews_by_postcode_at_view_hourly"
                " WHERE period_start = $hour AND postcode = 'AB4 1CD'",
                {"hour": t(1, 8)},
            ).fetchall()
        assert cell == [(3,)]


def test_a_reader_holding_the_spare_makes_the_publish_copy(tmp_path: Path) -> None:
    with _spare_scenario(tmp_path, "on") as shared:
        target = shared.bi_database
        stop = tmp_path / "stop"
        # A BI tool that opened the file before the next load, holding it throughout: after
        # that load's publish its file is the spare, which it must go on reading as it was.
        held = _state(target)
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(target), str(stop), "held", ",".join(BI_VIEWS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert json.loads(reader.stdout.readline())["row"] == held
            with _recorded_publishes() as publications:
                shared.ingest(_pageviews(10, late=8))
                shared.ingest(_pageviews(11, late=9))
                # The reader let go: its file, the spare again by now, is patched once more.
                stop.touch()
                out, err = reader.communicate(timeout=60)
                shared.ingest(_pageviews(12, late=10))
        finally:
            stop.touch()
            if reader.poll() is None:
                reader.kill()
        # The first load patched the spare (no one held it); the second found the spare held
        # (the reader's file) and copied; the third patched the spare once the reader closed.
        assert [(p.how, p.base) for p in publications] == [
            ("patch", "spare"),
            ("patch", "copy"),
            ("patch", "spare"),
        ]
        assert reader.returncode == 0, err
        *reads, reconnected = [json.loads(line) for line in out.splitlines()]
        assert [read for read in reads if "error" in read] == []
        assert {tuple(read["row"]) for read in reads} == {tuple(held)}
        assert reconnected["row"] != held
        assert published(target) == oracle.expected_views(shared.events)


def test_a_spare_of_another_generation_is_not_patched(tmp_path: Path) -> None:
    with _spare_scenario(tmp_path, "on") as shared:
        target = shared.bi_database
        with _recorded_publishes() as publications:
            shared.ingest(_pageviews(10, late=8))
            # A file restored over the spare (here the published one, a generation ahead of
            # the one the kept changes start from): a copy, and the file is right.
            publishing.spare_path(target).write_bytes(target.read_bytes())
            shared.ingest(_pageviews(11, late=9))
            shared.ingest(_pageviews(12, late=10))
        assert [p.base for p in publications] == ["spare", "copy", "spare"]
        assert published(target) == oracle.expected_views(shared.events)


def test_off_keeps_no_spare(tmp_path: Path) -> None:
    with _spare_scenario(tmp_path, "on") as shared:
        target = shared.bi_database
        assert publishing.spare_path(target).exists()
        with (
            mock.patch.dict("os.environ", {"PAGEVIEW_BI_SPARE": "off"}),
            _recorded_publishes() as publications,
        ):
            shared.ingest(_pageviews(10, late=8))
            shared.ingest(_pageviews(11, late=9))
        assert [p.base for p in publications] == ["copy", "copy"]
        assert not publishing.spare_path(target).exists()
        assert published(target) == oracle.expected_views(shared.events)
