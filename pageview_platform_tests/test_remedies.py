"""Every way forward an error or refusal prints works when an operator follows it.

Each test provokes the message, reads the remedy out of the message itself (the command in
backticks, the run config, the range), follows it, and checks it did what it said. If a message
changes its advice, the test follows the new advice.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from pageview_platform import cli
from pageview_platform.definitions import defs
from pageview_platform.jobs import MERGE_PAGEVIEWS_LOADS, UPDATE_POSTCODE_HISTORY
from pageview_platform.runs import run_launcher
from pageview_platform.settings import get_settings
from pageview_platform_tests.harness import Platform, platform_at

RAW_USERS = AssetKey(["raw", "users_extract"])
RAW_PAGEVIEWS = AssetKey(["raw", "pageviews_extract"])
HISTORY = AssetKey(["core", "user_postcode_history"])
OTHERS = [(100 + i, "Z1 1ZZ") for i in range(20)]
H5 = datetime(2024, 1, 2, 5)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Runs the CLI; its exit code and its one-line stderr."""
    code = cli.main(list(args))
    return code, capsys.readouterr().err.strip()


def _commands(message: str) -> list[list[str]]:
    """The `pageview-platform ...` commands a message advises, as CLI argument lists."""
    return [c.split()[1:] for c in re.findall(r"`(pageview-platform [^`]+)`", message)]


def _materialize(asset: AssetKey, partition_key: str, confirm: str | None = None):
    """One asset materialized the way the UI's Materialize button does (with launchpad config)."""
    config = {"confirm_landing_fingerprint": confirm}
    run_config = (
        {"ops": {asset.to_python_identifier(): {"config": config}}} if confirm is not None else None
    )
    return materialize(
        [defs().resolve_assets_def(asset)], partition_key=partition_key, run_config=run_config
    )


def _observed(result, key: str) -> str:
    """The reason a refused run's capture left on its asset (metadata KEY)."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_OBSERVATION":
            metadata = event.asset_observation_data.asset_observation.metadata
            if key in metadata:
                return str(metadata[key].value)
    raise AssertionError(f"no observation with {key!r}")


def _postcode(p: Platform, day: str, user: int) -> list[tuple]:
    return p.query(
        "SELECT postcode FROM raw.users_extract WHERE snapshot_date = ? AND id = ?", [day, user]
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two accepted snapshots and one load, captured by the CLI with the shrink check at 10%."""
    folder = tmp_path_factory.mktemp("remedies")
    with platform_at(folder, max_snapshot_shrink="0.10") as p:
        p.land_users([(1, "AB1 2CD"), *OTHERS])
        p.ingest_users("2024-01-01")
        p.land_users([(1, "ZZ9 9ZZ"), *OTHERS])
        p.ingest_users("2024-01-02")
        p.land_pageviews([(1, "/a", H5.replace(minute=3)), (101, "/b", H5.replace(minute=9))])
        p.ingest_pageviews(H5)
    return folder


@pytest.fixture
def p(template: Path, tmp_path: Path) -> Iterator[Platform]:
    copy = tmp_path / "copy"
    shutil.copytree(template, copy)
    with platform_at(copy, max_snapshot_shrink="0.10") as platform:
        yield platform


def test_a_held_snapshot_is_accepted_or_replaced_the_two_ways_the_message_gives(
    p: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held twice: accepted by the command the message names, then, held again, replaced by the
    complete re-extract the message asks for."""
    p.land_users([(1, "NE1 1AA"), *OTHERS[:5]])  # a partial extract of the 2nd
    code, message = _cli(capsys, "ingest-users", "--date", "2024-01-02")
    assert code == 1 and "held" in message, message
    assert _postcode(p, "2024-01-02", 1) == [("ZZ9 9ZZ",)]  # the accepted one stays in use
    [(held,)] = p.query("SELECT reasons FROM ops.held_users_snapshots")
    assert "snapshot_not_shrunk" in held
    accept = next(c for c in _commands(message) if c[0] == "accept-snapshot")
    p.land_users([(9, "XX1 1XX")])  # the landing table moved on: the held copy is what counts
    code, err = _cli(capsys, *accept)
    assert code == 0, err
    assert _postcode(p, "2024-01-02", 1) == [("NE1 1AA",)]
    assert p.query("SELECT count(*) FROM raw.users_extract WHERE snapshot_date = '2024-01-02'") == [
        (6,)
    ]
    assert p.query("SELECT check_name FROM ops.users_snapshot_acceptances") == [
        ("snapshot_not_shrunk",)
    ]
    # The view at 05:00 on the 2nd follows the accepted snapshot.
    assert p.query(
        "SELECT postcode FROM bi.pageviews_by_postcode_at_view_hourly"
        " WHERE period_start = '2024-01-02 05:00' AND pageviews > 0 ORDER BY ALL"
    ) == [("NE1 1AA",), ("Z1 1ZZ",)]

    p.land_users([(1, "SE1 7PB")])  # the 1st's 21 users against 1: held again
    code, message = _cli(capsys, "ingest-users", "--date", "2024-01-02")
    assert code == 1 and "held" in message, message
    ingest = next(c for c in _commands(message) if c[0] == "ingest-users")
    p.land_users([(1, "SE1 7PB"), *OTHERS])  # "land a complete extract"
    code, err = _cli(capsys, *ingest)
    assert code == 0, err
    assert _postcode(p, "2024-01-02", 1) == [("SE1 7PB",)]
    assert p.query("SELECT count(*) FROM raw.users_extract_held") == [(0,)]
    assert p.query("SELECT count(*) FROM ops.held_users_snapshots") == [(0,)]


def test_accepting_a_date_with_nothing_held_points_at_the_list_of_held_snapshots(
    p: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    code, message = _cli(capsys, "accept-snapshot", "--date", "2024-01-01")
    assert code == 1 and "nothing to accept" in message, message
    [view] = re.findall(r"ops\.\w+", message)
    assert p.query(f"SELECT count(*) FROM {view}") == [(0,)]


def test_a_history_partition_with_later_snapshots_is_rebuilt_as_the_range_the_message_names(
    p: Platform,
) -> None:
    result = materialize(
        [defs().resolve_assets_def(HISTORY)], partition_key="2024-01-01", raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    error, messages = failure.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    advice = re.search(r"range from (\S+) through (\S+) in one run", " ".join(messages))
    assert advice is not None, messages
    first, last = advice.groups()
    with run_launcher(get_settings().dagster_home) as launcher:
        launcher.run(UPDATE_POSTCODE_HISTORY, first, last)


def test_a_replacement_the_ui_refuses_is_taken_with_the_command_or_the_config_it_names(
    p: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    p.land_users([(1, "NE1 1AA"), *OTHERS])  # a re-extract of the 2nd
    refused = _materialize(RAW_USERS, "2024-01-02")
    message = _observed(refused, "refused")
    fingerprint = re.search(r"confirm_landing_fingerprint: '([^']+)'", message).group(1)
    result = _materialize(RAW_USERS, "2024-01-02", confirm=fingerprint)
    assert result.success
    assert _postcode(p, "2024-01-02", 1) == [("NE1 1AA",)]
    # The other way it names, the CLI, takes the next re-extract.
    p.land_users([(1, "SE1 7PB"), *OTHERS])
    command = _commands(_observed(_materialize(RAW_USERS, "2024-01-02"), "refused"))[0]
    code, err = _cli(capsys, *command)
    assert code == 0, err
    assert _postcode(p, "2024-01-02", 1) == [("SE1 7PB",)]


def test_a_stale_confirmation_names_the_fingerprint_to_confirm_instead(p: Platform) -> None:
    p.land_users([(1, "NE1 1AA"), *OTHERS])
    message = _observed(_materialize(RAW_USERS, "2024-01-02", confirm="21:123"), "refused")
    fingerprint = re.search(r"fingerprint is (\S+), not the confirmed", message).group(1)
    assert _materialize(RAW_USERS, "2024-01-02", confirm=fingerprint).success
    assert _postcode(p, "2024-01-02", 1) == [("NE1 1AA",)]


def test_a_load_under_the_wrong_hour_is_taken_under_the_hour_the_message_names(
    p: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    later = datetime(2024, 1, 2, 14)
    p.land_pageviews([(1, "/f", later.replace(minute=5)), (101, "/g", later.replace(minute=40))])
    message = _observed(_materialize(RAW_PAGEVIEWS, "2024-01-02-09:00"), "refused")
    hour = re.search(r"most likely --hour (\S+)\)?", message).group(1).rstrip(")")
    code, err = _cli(capsys, "ingest-pageviews", "--hour", hour)
    assert code == 0, err
    assert p.query(
        "SELECT count(*) FROM raw.pageviews_extract WHERE load_hour = '2024-01-02 14:00'"
    ) == [(2,)]


def test_a_load_that_can_never_replace_a_captured_hour_gives_way_to_the_re_extract(
    p: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later hour's load under 05:00 is refused even by the CLI; the message says to land the
    re-extract of 05:00 and run the CLI again, which takes it."""
    later = datetime(2024, 1, 2, 14)
    p.land_pageviews([(1, "/f", later.replace(minute=5)), (101, "/g", later.replace(minute=40))])
    code, message = _cli(capsys, "ingest-pageviews", "--hour", "2024-01-02T05")
    assert code == 1 and "never replaces it" in message, message
    p.land_pageviews([(1, "/a", H5.replace(minute=3)), (1, "/h", H5.replace(minute=30))])
    code, err = _cli(capsys, *_commands(message)[0])
    assert code == 0, err
    assert p.query(
        "SELECT url FROM raw.pageviews_extract WHERE load_hour = '2024-01-02 05:00' ORDER BY 1"
    ) == [("/a",), ("/h",)]


def test_a_capture_refused_in_a_backfill_points_at_rebuilding_from_the_captured_copies(
    p: Platform,
) -> None:
    result = materialize(
        [defs().resolve_assets_def(RAW_PAGEVIEWS)],
        partition_key="2024-01-02-05:00",
        tags={"dagster/backfill": "abc"},
    )
    assert "rebuild downstream assets from the captured copies" in _observed(result, "refused")
    with run_launcher(get_settings().dagster_home) as launcher:
        launcher.run(MERGE_PAGEVIEWS_LOADS, "2024-01-02-04:00", "2024-01-02-06:00")


def test_ingest_before_the_warehouse_exists_runs_after_the_command_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with platform_at(tmp_path / "new") as p:
        code, message = _cli(capsys, "ingest-pageviews", "--hour", "2024-01-02T05")
        assert code == 1 and not p.warehouse.exists(), message
        deploy = next(c for c in _commands(message) if c[0] == "deploy-schema")
        code, err = _cli(capsys, *deploy)
        assert code == 0, err
        p.land_pageviews([(1, "/a", H5.replace(minute=3))])
        code, err = _cli(capsys, "ingest-pageviews", "--hour", "2024-01-02T05")
        assert code == 0, err
