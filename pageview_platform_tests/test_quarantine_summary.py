"""The pandas I/O managers' guarantees on DuckDB and Snowflake (fakesnow), and the per-day
quarantine summary they write, checked against counts made in Python."""

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from dagster import (
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    Definitions,
    asset,
    build_schedule_context,
    materialize,
)
from fakesnow.cursor import FakeSnowflakeCursor

from pageview_platform.assets.partitions import Partitions
from pageview_platform.assets.quarantine_summary import (
    FRAME_IO,
    build_quarantine_summary_assets,
    build_quarantine_summary_schedule,
)
from pageview_platform.settings import Settings, get_settings
from pageview_platform.warehouse.duckdb import DuckDBWarehouse, connect
from pageview_platform.warehouse.frames import (
    DuckDBFrameIOManager,
    SnowflakeFrameIOManager,
    frame_io_manager,
)
from pageview_platform.warehouse.resources import warehouse_resource
from pageview_platform.warehouse.snowflake import session
from pageview_platform_tests.harness import SnowflakePlatform, platform_at

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC", end_offset=1)
START = date(2024, 1, 1)
CONFIG = {"threads": 1}
D1, D2, D3 = datetime(2024, 1, 1), datetime(2024, 1, 2), datetime(2024, 1, 3)
Frame = Callable[[datetime], pd.DataFrame]


def _frame_asset(frame: Frame, partition_expr: str = "day"):
    @asset(
        key=["core", "frame_sample"],
        partitions_def=DAYS,
        metadata={"partition_expr": partition_expr},
    )
    def frame_sample(context) -> pd.DataFrame:
        return frame(context.partition_time_window.start.replace(tzinfo=None))

    return frame_sample


def _one_row(name: str, n: int) -> Frame:
    return lambda day: pd.DataFrame({"day": [day], "seen_at": [D3], "name": [name], "n": [n]})


# ---------------------------------------------------------------- DuckDB


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    path = tmp_path / "frames.duckdb"
    with connect(path, CONFIG, START) as con:
        con.execute(
            "CREATE TABLE core.frame_sample"
            " (day TIMESTAMP NOT NULL, seen_at TIMESTAMP, name VARCHAR, n BIGINT)"
        )
    return path


def _duckdb_io(path: Path) -> DuckDBFrameIOManager:
    return DuckDBFrameIOManager(
        database=str(path), connection_config=CONFIG, start_date="2024-01-01"
    )


def _write_duckdb(path: Path, assets_def, key: str = "2024-01-02", raise_on_error: bool = True):
    return materialize(
        [assets_def],
        partition_key=key,
        resources={"io_manager": _duckdb_io(path)},
        raise_on_error=raise_on_error,
    )


def _duckdb_rows(path: Path) -> list[tuple]:
    with connect(path, CONFIG, START) as con:
        return con.execute(
            "SELECT day, name, n FROM core.frame_sample ORDER BY day, name"
        ).fetchall()


def test_duckdb_rerun_replaces_its_partition_and_keeps_the_others(duckdb_path: Path) -> None:
    _write_duckdb(duckdb_path, _frame_asset(_one_row("a", 1)), "2024-01-01")
    _write_duckdb(duckdb_path, _frame_asset(_one_row("a", 1)), "2024-01-02")
    _write_duckdb(duckdb_path, _frame_asset(_one_row("b", 2)), "2024-01-02")
    assert _duckdb_rows(duckdb_path) == [(D1, "a", 1), (D2, "b", 2)]


def test_duckdb_frame_columns_land_by_name_not_position(duckdb_path: Path) -> None:
    reordered = _frame_asset(lambda day: pd.DataFrame({"n": [7], "name": ["x"], "day": [day]}))
    _write_duckdb(duckdb_path, reordered)
    assert _duckdb_rows(duckdb_path) == [(D2, "x", 7)]


def test_duckdb_failed_write_changes_nothing(duckdb_path: Path) -> None:
    _write_duckdb(duckdb_path, _frame_asset(_one_row("a", 1)))
    # The insert succeeds, then the row outside the partition fails the write after the delete.
    leaking = _frame_asset(
        lambda day: pd.DataFrame({"day": [day, D3], "name": ["b", "c"], "n": [2, 3]})
    )
    assert not _write_duckdb(duckdb_path, leaking, raise_on_error=False).success
    assert _duckdb_rows(duckdb_path) == [(D2, "a", 1)]


def test_duckdb_empty_frame_empties_the_partition(duckdb_path: Path) -> None:
    _write_duckdb(duckdb_path, _frame_asset(_one_row("a", 1)))
    empty = _frame_asset(lambda day: pd.DataFrame({"n": pd.Series([], dtype="int64")}))
    assert _write_duckdb(duckdb_path, empty).success
    assert _duckdb_rows(duckdb_path) == []


@pytest.mark.parametrize("partition_expr", ["no_such_column", "seen_at"])
def test_duckdb_wrong_partition_expr_fails_instead_of_duplicating(
    duckdb_path: Path, partition_expr: str
) -> None:
    _write_duckdb(duckdb_path, _frame_asset(_one_row("a", 1)))
    wrong = _frame_asset(_one_row("a", 1), partition_expr=partition_expr)
    assert not _write_duckdb(duckdb_path, wrong, raise_on_error=False).success
    assert _duckdb_rows(duckdb_path) == [(D2, "a", 1)]


def test_duckdb_frame_loads_back_as_written(duckdb_path: Path) -> None:
    loaded: list[pd.DataFrame] = []

    @asset(partitions_def=DAYS)
    def reader(frame_sample: pd.DataFrame) -> None:
        loaded.append(frame_sample)

    materialize(
        [_frame_asset(_one_row("a", 1)), reader],
        partition_key="2024-01-02",
        resources={"io_manager": _duckdb_io(duckdb_path)},
    )
    assert loaded[0][["day", "name", "n"]].to_records(index=False).tolist() == [(D2, "a", 1)]


# ---------------------------------------------------------------- Snowflake (fakesnow)


@pytest.fixture
def snowflake(tmp_path: Path) -> Iterator[SnowflakePlatform]:
    with platform_at(tmp_path, warehouse="snowflake") as platform:
        assert isinstance(platform, SnowflakePlatform)
        with session(get_settings().snowflake.resource_config()) as con:
            con.execute_native(
                "CREATE TABLE core.frame_sample"
                " (day TIMESTAMP_NTZ NOT NULL, seen_at TIMESTAMP_NTZ, name VARCHAR, n BIGINT)"
            )
        yield platform


def _write_snowflake(assets_def, key: str = "2024-01-02", raise_on_error: bool = True):
    io_manager = SnowflakeFrameIOManager(**get_settings().snowflake.resource_config())
    return materialize(
        [assets_def],
        partition_key=key,
        resources={"io_manager": io_manager},
        raise_on_error=raise_on_error,
    )


def _snowflake_rows(platform: SnowflakePlatform) -> list[tuple]:
    return platform.query("SELECT day, name, n FROM core.frame_sample ORDER BY day, name")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    sent: list[str] = []
    execute = FakeSnowflakeCursor.execute

    def recording(cursor, command, params=None, *args, **kwargs):
        sent.append(command)
        return execute(cursor, command, params, *args, **kwargs)

    with mock.patch.object(FakeSnowflakeCursor, "execute", recording):
        yield sent


def test_snowflake_write_is_one_transaction_staged_before_it(
    snowflake: SnowflakePlatform, statements: list[str]
) -> None:
    _write_snowflake(
        _frame_asset(lambda day: pd.DataFrame({"n": [7], "name": ["x"], "day": [day]}))
    )
    assert _snowflake_rows(snowflake) == [(D2, "x", 7)]
    begin = statements.index("BEGIN")
    commit = statements.index("COMMIT", begin)
    inside = statements[begin + 1 : commit]
    assert inside[0].startswith("DELETE FROM core.frame_sample WHERE day >= :1 AND day < :2")
    assert inside[1].startswith("INSERT INTO core.frame_sample (n, name, day) SELECT")
    assert not [
        s for s in inside if s.split()[0].upper() in {"CREATE", "ALTER", "DROP", "PUT", "COPY"}
    ]
    staged = [s for s in statements[:begin] if "frame_frame_sample_" in s]
    assert staged, "the frame is staged before the transaction begins"
    assert any(
        s.startswith("DROP TABLE IF EXISTS scratch.frame_frame_sample_")
        for s in statements[commit:]
    )


def test_snowflake_failed_write_changes_nothing(snowflake: SnowflakePlatform) -> None:
    _write_snowflake(_frame_asset(_one_row("a", 1)))
    leaking = _frame_asset(
        lambda day: pd.DataFrame({"day": [day, D3], "name": ["b", "c"], "n": [2, 3]})
    )
    assert not _write_snowflake(leaking, raise_on_error=False).success
    assert _snowflake_rows(snowflake) == [(D2, "a", 1)]


def test_snowflake_empty_frame_empties_the_partition(snowflake: SnowflakePlatform) -> None:
    _write_snowflake(_frame_asset(_one_row("a", 1)), "2024-01-01")
    _write_snowflake(_frame_asset(_one_row("a", 1)))
    empty = _frame_asset(lambda day: pd.DataFrame({"n": pd.Series([], dtype="int64")}))
    assert _write_snowflake(empty).success
    assert _snowflake_rows(snowflake) == [(D1, "a", 1)]


def test_snowflake_wrong_partition_expr_fails_instead_of_duplicating(
    snowflake: SnowflakePlatform,
) -> None:
    _write_snowflake(_frame_asset(_one_row("a", 1)))
    assert not _write_snowflake(
        _frame_asset(_one_row("a", 1), partition_expr="seen_at"), raise_on_error=False
    ).success
    assert _snowflake_rows(snowflake) == [(D2, "a", 1)]


# ---------------------------------------------------------------- the summary


USERS = [  # (snapshot_date, id, postcode)
    (D2, 1, "SW1A 1AA"),
    (D2, 2, ""),
    (D2, None, "EC1A 1BB"),
    (D2, 3, "N1 9GU"),
    (D1, 4, ""),
]
USERS_QUARANTINE = [  # (snapshot_date, id, postcode, reason)
    (D2, 2, "", "blank_postcode"),
    (D2, None, "EC1A 1BB", "missing_id"),
    (D1, 4, "", "blank_postcode"),
]
PAGEVIEWS = [  # (load_hour, user_id, url, pageview_datetime)
    *((D2 + timedelta(hours=h), 1, f"/p{h}", D2 + timedelta(hours=h)) for h in range(24)),
    (D2 + timedelta(hours=5), None, "/x", D2),
    (D2 + timedelta(hours=23), 1, None, D2),
    (D2 + timedelta(hours=23), 1, "/y", None),
    (D3, 1, "/z", D3),
]
PAGEVIEWS_QUARANTINE = [  # (load_hour, user_id, url, pageview_datetime, reason)
    (D2 + timedelta(hours=5), None, "/x", D2, "missing_user_id"),
    (D2 + timedelta(hours=23), 1, None, D2, "missing_url"),
    (D2 + timedelta(hours=23), 1, "/y", None, "missing_pageview_datetime"),
    (D3, 9, "/q", D3, "missing_url"),
]


def _expected(day: datetime) -> set[tuple]:
    """The summary of DAY, counted in Python from the rows above."""

    def on(moment: datetime) -> bool:
        return day <= moment < day + timedelta(days=1)

    captured = {
        "users": sum(on(row[0]) for row in USERS),
        "pageviews": sum(on(row[0]) for row in PAGEVIEWS),
    }
    reasons = Counter(("users", row[-1]) for row in USERS_QUARANTINE if on(row[0]))
    reasons.update(("pageviews", row[-1]) for row in PAGEVIEWS_QUARANTINE if on(row[0]))
    rows = {(day, e, r, n, captured[e]) for (e, r), n in reasons.items()}
    quarantining = {e for e, _ in reasons}
    rows |= {(day, e, None, 0, n) for e, n in captured.items() if n and e not in quarantining}
    return rows


def _insert_rows(con) -> None:
    con.executemany("INSERT INTO raw.users_extract VALUES (?, ?, ?)", USERS)
    con.executemany("INSERT INTO core.users_quarantine VALUES (?, ?, ?, ?)", USERS_QUARANTINE)
    con.executemany("INSERT INTO raw.pageviews_extract VALUES (?, ?, ?, ?)", PAGEVIEWS)
    con.executemany(
        "INSERT INTO core.pageviews_quarantine VALUES (?, ?, ?, ?, ?)", PAGEVIEWS_QUARANTINE
    )


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with platform_at(tmp_path):
        settings = get_settings()
        with connect(settings.duckdb_path, CONFIG, START) as con:
            _insert_rows(con)
        yield settings


def _resources(settings: Settings) -> dict[str, object]:
    warehouse = DuckDBWarehouse(
        database=str(settings.duckdb_path),
        connection_config=settings.duckdb_connection_config,
        start_date=settings.start_date.isoformat(),
    )
    return {"warehouse": warehouse, FRAME_IO: frame_io_manager(settings)}


def _summarize(settings: Settings, key: str):
    assets = build_quarantine_summary_assets(Partitions.starting(settings.start_date), settings)
    return materialize(assets, partition_key=key, resources=_resources(settings))


def _summary_rows(settings: Settings) -> set[tuple]:
    with connect(settings.duckdb_path, CONFIG, START) as con:
        return set(
            con.execute(
                "SELECT summary_date, extract, reason, quarantined_rows, captured_rows"
                " FROM ops.quarantine_summary"
            ).fetchall()
        )


def test_summary_counts_equal_those_counted_in_python(settings: Settings) -> None:
    result = _summarize(settings, "2024-01-02")
    expected = _expected(D2)
    assert _summary_rows(settings) == expected
    metadata = result.asset_materializations_for_node("ops__quarantine_summary")[0].metadata
    assert metadata["quarantined_rows"].value == sum(row[3] for row in expected) == 5
    assert "blank_postcode" in metadata["summary"].value


def test_summary_of_a_day_without_quarantine_shows_what_it_captured(settings: Settings) -> None:
    _summarize(settings, "2024-01-01")
    _summarize(settings, "2024-01-03")
    assert _summary_rows(settings) == _expected(D1) | _expected(D3)
    assert (D3, "users", None, 0, 0) not in _summary_rows(settings)


def test_summary_rerun_replaces_the_day(settings: Settings) -> None:
    _summarize(settings, "2024-01-02")
    with connect(settings.duckdb_path, CONFIG, START) as con:
        con.execute("DELETE FROM core.users_quarantine WHERE reason = 'missing_id'")
    _summarize(settings, "2024-01-02")
    assert {row[2] for row in _summary_rows(settings) if row[1] == "users"} == {"blank_postcode"}


def test_summary_loads_in_the_code_location_and_is_scheduled_for_yesterday(
    settings: Settings,
) -> None:
    partitions = Partitions.starting(settings.start_date)
    schedule = build_quarantine_summary_schedule(partitions, settings)
    repository = Definitions(
        assets=build_quarantine_summary_assets(partitions, settings),
        schedules=[schedule],
        resources=_resources(settings),
    ).get_repository_def()
    repository.load_all_definitions()
    # platform_at's environment is PAGEVIEW_ENV=dev, where sensors and schedules run.
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    at = datetime(2024, 1, 3, 0, 45, tzinfo=UTC)
    context = build_schedule_context(scheduled_execution_time=at, repository_def=repository)
    assert [r.partition_key for r in schedule.evaluate_tick(context).run_requests] == ["2024-01-02"]


def test_summary_on_snowflake_equals_the_counts_in_python(snowflake: SnowflakePlatform) -> None:
    settings = get_settings()
    with session(settings.snowflake.resource_config()) as con:
        for table, rows in (
            ("raw.users_extract", USERS),
            ("core.users_quarantine", USERS_QUARANTINE),
            ("raw.pageviews_extract", PAGEVIEWS),
            ("core.pageviews_quarantine", PAGEVIEWS_QUARANTINE),
        ):
            binds = ", ".join(f":{n + 1}" for n in range(len(rows[0])))
            for row in rows:
                con.execute_native(f"INSERT INTO {table} VALUES ({binds})", row)
    assets = build_quarantine_summary_assets(Partitions.starting(settings.start_date), settings)
    resources = {"warehouse": warehouse_resource(settings), FRAME_IO: frame_io_manager(settings)}
    materialize(assets, partition_key="2024-01-02", resources=resources)
    rows = snowflake.query(
        "SELECT summary_date, extract, reason, quarantined_rows, captured_rows"
        " FROM ops.quarantine_summary"
    )
    assert set(rows) == _expected(D2)
