"""The CLI's cheap refusals: a bad --date or --hour before Dagster is imported, and a
PAGEVIEW_START_DATE other than the one the warehouse records, with the migration it names."""

import contextlib
import io
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from pageview_platform import cli
from pageview_platform.settings import StartDateChanged, get_settings, start_date_pin
from pageview_platform_tests.harness import Platform, SnowflakePlatform, platform_at

# What the code location pulls in: none of it may load before the arguments are refused.
HEAVY = {"dagster", "dagster_duckdb", "dagster_snowflake", "duckdb", "pandas", "sqlglot"}
CHANGED = "2024-02-01"


@pytest.mark.parametrize(
    "argv",
    [
        ["ingest-users", "--date", "2024-13-01"],
        ["ingest-users", "--date", "2023-12-31"],  # before the start date
        ["ingest-pageviews", "--hour", "2024-01-01T25"],
    ],
)
def test_a_bad_date_or_hour_is_refused_before_dagster_is_imported(
    platform: Platform, argv: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pageview_platform", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stderr.splitlines()
    said = [line for line in lines if not line.startswith("import time:")]
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in lines
        if line.startswith("import time:")
    }
    assert result.returncode == 2
    assert len(said) == 1 and said[0].startswith("pageview-platform: --"), said
    assert not imported & HEAVY
    assert not platform.warehouse.exists()


def test_the_script_exits_with_mains_code_after_the_atexit_handlers_and_a_flush(
    platform: Platform,
) -> None:
    """entry() skips the interpreter's teardown (os._exit), not what a normal exit does: the
    atexit handlers run, and what they and main() printed reaches a pipe, where stdout is
    block-buffered and os._exit alone would drop it."""
    script = (
        "import atexit, sys\n"
        "atexit.register(print, 'an atexit handler ran')\n"
        "print('printed before main')\n"
        "sys.argv = ['pageview-platform', 'ingest-pageviews', '--hour', '2024-01-01T25']\n"
        "from pageview_platform.cli import entry\n"
        "entry()\n"
        "print('not reached')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout.splitlines() == ["printed before main", "an atexit handler ran"]
    assert result.stderr.startswith("pageview-platform: --hour")


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under FOLDER (the warehouse, its pin, the Dagster instance), by content."""
    return {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}


def _deploy() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["deploy-schema"]) == 0


@pytest.fixture
def deployed(platform: Platform) -> Platform:
    """A warehouse deployed with the fixture's start date, 2024-01-01, and a load of each landed:
    the views at 12:00 on 31 January and 00:05 on 2 February."""
    _deploy()
    platform.land_users([(1, "N1 1AA")])
    platform.land_pageviews(
        [(1, "/a", datetime(2024, 2, 2, 0, 5)), (1, "/b", datetime(2024, 1, 31, 12))]
    )
    return platform


def _refusal(err: str, configured: str, recorded: str) -> str:
    """The one-line refusal's migration command, after checking the line names both dates."""
    line = err.strip()
    assert "\n" not in line, line
    assert line.startswith(f"pageview-platform: PAGEVIEW_START_DATE is {configured}"), line
    assert f"records start date {recorded}" in line, line
    remedy = re.search(r"`pageview-platform (set-start-date [^`]+)`", line)
    assert remedy is not None and remedy.group(1) == f"set-start-date {configured}", line
    return remedy.group(1)


def test_a_changed_start_date_is_refused_with_one_line_and_changes_nothing(
    deployed: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAGEVIEW_START_DATE", CHANGED)
    folder = deployed.warehouse.parent
    before = _files(folder)
    for argv in (
        ["ingest-users", "--date", "2024-02-02"],
        ["ingest-pageviews", "--hour", "2024-02-02T00"],
        ["deploy-schema"],
        ["replay-quarantine"],
    ):
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        _refusal(captured.err, CHANGED, "2024-01-01")
    # The code location (`dagster dev`, the daemon) reads its settings the same way.
    with pytest.raises(StartDateChanged):
        get_settings()
    assert _files(folder) == before


def test_the_printed_remedies_move_the_start_date_without_losing_a_captured_row(
    deployed: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAGEVIEW_START_DATE", CHANGED)
    assert cli.main(["ingest-pageviews", "--hour", "2024-02-02T00"]) == 2
    remedy = _refusal(capsys.readouterr().err, CHANGED, "2024-01-01")
    assert cli.main(remedy.split()) == 0
    assert f"starts at {CHANGED} (was 2024-01-01)" in capsys.readouterr().out
    assert deployed.query("SELECT start_date FROM core.platform_settings") == [
        (datetime(2024, 2, 1),)
    ]
    assert json.loads(start_date_pin(deployed.warehouse).read_text())["start_date"] == CHANGED
    deployed.ingest_pageviews("2024-02-02T00")
    assert deployed.query("SELECT url, reason FROM core.pageviews_quarantine") == [
        ("/b", "before_start_date")
    ]
    # The refusal's other remedy: unset, every process reads the date the warehouse records.
    monkeypatch.delenv("PAGEVIEW_START_DATE")
    assert get_settings().start_date.isoformat() == CHANGED

    # Later than data already captured: refused, naming the latest date it can take.
    folder = deployed.warehouse.parent
    before = _files(folder)
    capsys.readouterr()
    assert cli.main(["set-start-date", "2024-02-03"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "holds data captured from 2024-02-02 00:00" in err, err
    latest = re.search(r"the latest start date it can take is (\S+);", err)
    assert latest is not None and latest.group(1) == "2024-02-02"
    assert _files(folder) == before
    assert cli.main(["set-start-date", latest.group(1)]) == 0

    # Earlier: the view the old date quarantined is re-admitted in the same command.
    capsys.readouterr()
    assert cli.main(["set-start-date", "2024-01-31"]) == 0
    assert "1 pageview rows" in capsys.readouterr().out
    assert deployed.query("SELECT url FROM core.pageview_fact ORDER BY url") == [("/a",), ("/b",)]
    assert deployed.query("SELECT count(*) FROM core.pageviews_quarantine") == [(0,)]
    assert get_settings().start_date.isoformat() == "2024-01-31"


@pytest.mark.snowflake
def test_snowflake_compares_the_start_date_its_warehouse_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No pin on Snowflake: core.platform_settings is the record, read before any write."""
    with platform_at(tmp_path, warehouse="snowflake") as snowflake:
        assert isinstance(snowflake, SnowflakePlatform)
        monkeypatch.setenv("PAGEVIEW_START_DATE", CHANGED)
        for argv in (["deploy-schema"], ["ingest-users", "--date", "2024-02-02"]):
            assert cli.main(argv) == 2, argv
            remedy = _refusal(capsys.readouterr().err, CHANGED, "2024-01-01")
        assert snowflake.query("SELECT start_date FROM core.platform_settings") == [
            (datetime(2024, 1, 1),)
        ]
        assert cli.main(remedy.split()) == 0
        _deploy()
        assert snowflake.query("SELECT start_date FROM core.platform_settings") == [
            (datetime(2024, 2, 1),)
        ]
        monkeypatch.undo()
