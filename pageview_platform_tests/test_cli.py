"""The command line contract: exit codes, one-line errors, runs the UI can re-execute."""

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from pageview_platform import cli, ingest
from pageview_platform.runs import CODE_LOCATION, ensure_dagster_home
from pageview_platform.settings import get_settings
from pageview_platform_tests.harness import Platform, platform_at

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "argv",
    [
        ["ingest-users", "--date", "2024-13-01"],
        ["ingest-users", "--date", "2023-12-31"],
        ["ingest-users", "--date", "2024-01-01; DROP TABLE raw.users_extract"],
        ["ingest-pageviews", "--hour", "2024-01-01T25"],
        ["ingest-pageviews", "--hour", "2024-01-01 10"],
        ["ingest-pageviews", "--hour", "2999-01-01T00"],
    ],
)
def test_invalid_partition_argument_exits_2_with_one_line(
    platform: Platform, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pageview-platform: ") and "\n" not in err
    assert not platform.warehouse.exists()


def test_ingest_prints_what_it_did(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    platform.land_users([(1, "AB1 2CD"), (None, "AB1 2CD")])
    platform.ingest_users("2024-01-01")
    out = capsys.readouterr().out
    assert "users snapshot 2024-01-01: captured 2 rows, quarantined 1" in out
    assert "ingest_users_snapshot [2024-01-01] ok" in out
    # The warehouse is checkpointed after the runs and the time printed (the bench reads it).
    assert re.search(r"^  warehouse checkpoint \d+\.\d\d s$", out, re.MULTILINE), out


def test_ingest_runs_are_recorded_with_the_code_location_the_ui_loads(platform: Platform) -> None:
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 0, 5))])
    platform.ingest_pageviews("2024-01-01T00")
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
    assert {run.job_name for run in runs} == {"ingest_pageviews_load"}
    for run in runs:
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.remote_job_origin is not None
        assert run.remote_job_origin.location_name == CODE_LOCATION
    workspace = (REPO / "workspace.yaml").read_text()
    assert f"location_name: {CODE_LOCATION}" in workspace


def test_failed_run_exits_1_with_the_reason(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.land_users([(1, "AB1 2CD")])
    with platform._connect() as con:
        con.execute("DROP TABLE landing.users_extract")
        con.execute("CREATE TABLE landing.users_extract (user_id BIGINT, postcode VARCHAR)")
    assert platform.ingest_users("2024-01-01", expect_ok=False) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pageview-platform: ingest_users_snapshot [2024-01-01] failed")
    assert "\n" not in err


def test_warehouse_held_by_another_process_exits_1_with_one_line(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past the lock wait, a second ingest says the warehouse is busy instead of a traceback."""
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 10, 5))])

    @contextmanager
    def locked(settings: object) -> Iterator[None]:
        raise duckdb.IOException(
            'IO Error: Could not set lock on file "warehouse.duckdb": Conflicting lock is held'
            " in python3 (PID 4242)\nSee also https://duckdb.org/docs/stable/connect/concurrency"
        )
        yield

    monkeypatch.setattr(ingest, "open_connection", locked)
    assert cli.main(["ingest-pageviews", "--hour", "2024-01-01T10"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pageview-platform: the warehouse is busy, nothing ran: IO Error")
    assert "\n" not in err


def test_python_dash_m_runs_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pageview_platform", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "ingest-pageviews" in result.stdout


def test_each_ingest_writes_the_warehouse_its_environment_names(tmp_path: Path) -> None:
    with platform_at(tmp_path / "first") as first:
        first.land_users([(1, "first")])
        with first._connect() as con:
            con.execute("ALTER TABLE landing.users_extract RENAME COLUMN id TO user_id")
        assert first.ingest_users("2024-01-01", expect_ok=False) == 1
    # The same job again, in the same process, for another warehouse file.
    with platform_at(tmp_path / "second") as second:
        second.land_users([(1, "second")])
        second.ingest_users("2024-01-01")
        assert second.query("SELECT postcode FROM raw.users_extract") == [("second",)]


def test_relative_paths_resolve_from_the_project_folder_wherever_the_cli_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAGEVIEW_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = get_settings()
    assert settings.duckdb_path == REPO / "data" / "warehouse.duckdb"
    assert settings.dagster_home == REPO / ".dagster_home"
    monkeypatch.setenv("PAGEVIEW_DUCKDB_PATH", "data/other.duckdb")
    assert get_settings().duckdb_path == REPO / "data" / "other.duckdb"


def _runs() -> list:
    with DagsterInstance.get() as instance:
        return instance.get_runs()


def test_ingest_into_a_warehouse_that_does_not_exist_exits_1_and_records_no_run(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ingest-pageviews", "--hour", "2024-01-01T10"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pageview-platform: no warehouse at ") and "\n" not in err
    assert not platform.warehouse.exists()
    ensure_dagster_home(get_settings().dagster_home)
    assert _runs() == []


def test_ingest_without_its_landing_table_exits_1_and_records_no_run(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.land_users([(1, "AB1 2CD")])
    assert cli.main(["ingest-pageviews", "--hour", "2024-01-01T10"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "pageview-platform: landing.pageviews_extract does not exist: nothing to ingest,"
        " nothing ran"
    )
    assert _runs() == []


def test_the_start_date_a_warehouse_was_created_with_is_the_default(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI and the daemon, started without PAGEVIEW_START_DATE, see the warehouse's dates."""
    monkeypatch.setenv("PAGEVIEW_START_DATE", "2024-03-01")
    platform.land_users([(1, "AB1 2CD")])
    platform.ingest_users("2024-03-02")
    monkeypatch.delenv("PAGEVIEW_START_DATE")
    assert get_settings().start_date.isoformat() == "2024-03-01"
