"""A capture copies the landing table into its own partition only: anything else is refused,
changes nothing, and is not a failure."""

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, ExecuteInProcessResult, materialize

from pageview_platform.alerts import ACTION_REFUSED, RUN_FAILURE
from pageview_platform.definitions import defs
from pageview_platform_tests.harness import Platform, platform_at

RAW_USERS = AssetKey(["raw", "users_extract"])
RAW_PAGEVIEWS = AssetKey(["raw", "pageviews_extract"])


def _capture(
    asset: AssetKey,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    confirm: str | None = None,
) -> ExecuteInProcessResult:
    """Materializes one capture asset the way the UI's Materialize button does."""
    capture = defs().resolve_assets_def(asset)
    run_config = (
        {
            "ops": {
                asset.to_python_identifier(): {"config": {"confirm_landing_fingerprint": confirm}}
            }
        }
        if confirm is not None
        else None
    )
    return materialize(
        [capture], partition_key=partition_key, tags=tags or {}, run_config=run_config
    )


def _materialized(result: ExecuteInProcessResult) -> bool:
    return any(e.event_type == DagsterEventType.ASSET_MATERIALIZATION for e in result.all_events)


def _raw(platform: Platform) -> dict[str, list[tuple]]:
    return {
        table: platform.query(f"SELECT * FROM raw.{table} ORDER BY ALL")
        for table in ("users_extract", "pageviews_extract")
    }


def _alerts(platform: Platform) -> list[tuple[str, str]]:
    return platform.query("SELECT kind, subject FROM ops.alerts ORDER BY raised_at")


def _assert_refused(platform: Platform, result: ExecuteInProcessResult, before: dict) -> None:
    assert result.success, "a refusal is not a failure"
    assert not _materialized(result)
    assert _raw(platform) == before
    kinds = [kind for kind, _ in _alerts(platform)]
    assert kinds.count(ACTION_REFUSED) == 1 and RUN_FAILURE not in kinds


H5 = datetime(2024, 1, 2, 5)
H23 = datetime(2024, 1, 2, 23)


@pytest.fixture(scope="module")
def captured_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two users snapshots and two loads captured by the CLI; the landing tables hold the last.

    Captured once per module (eight runs): each test starts from a copy.
    """
    template = tmp_path_factory.mktemp("captured")
    with platform_at(template) as platform:
        platform.land_users([(1, "AB1 2CD"), (2, "EF3 4GH")])
        platform.ingest_users("2024-01-01")
        platform.land_users([(1, "ZZ9 9ZZ"), (2, "EF3 4GH")])
        platform.ingest_users("2024-01-02")
        platform.land_pageviews([(1, "/a", H5.replace(minute=3)), (2, "/b", H5.replace(minute=9))])
        platform.ingest_pageviews(H5)
        platform.land_pageviews(
            [(1, "/c", H23.replace(minute=1)), (2, "/d", H23.replace(minute=7))]
        )
        platform.ingest_pageviews(H23)
    return template


@pytest.fixture
def captured(captured_template: Path, tmp_path: Path) -> Iterator[Platform]:
    copy = tmp_path / "captured"
    shutil.copytree(captured_template, copy)
    with platform_at(copy) as platform:
        yield platform


def test_capture_over_a_partition_range_is_refused_without_failing(captured: Platform) -> None:
    before = _raw(captured)
    range_tags = {
        "dagster/asset_partition_range_start": "2024-01-01",
        "dagster/asset_partition_range_end": "2024-01-03",
    }
    _assert_refused(captured, _capture(RAW_USERS, tags=range_tags), before)


def test_capture_inside_a_backfill_is_refused_without_failing(captured: Platform) -> None:
    before = _raw(captured)
    result = _capture(RAW_USERS, "2024-01-02", tags={"dagster/backfill": "abc"})
    _assert_refused(captured, result, before)


def test_materializing_an_old_hour_never_overwrites_its_captured_load(captured: Platform) -> None:
    before = _raw(captured)
    _assert_refused(captured, _capture(RAW_PAGEVIEWS, "2024-01-02-05:00"), before)


def test_a_load_already_captured_is_refused_under_an_uncaptured_hour(captured: Platform) -> None:
    """22:00 was never captured and the 23:00 load's views fall in its window: only the capture
    log says the landing load is 23:00's."""
    before = _raw(captured)
    _assert_refused(captured, _capture(RAW_PAGEVIEWS, "2024-01-02-22:00"), before)


def test_materializing_an_old_date_never_stamps_the_landing_snapshot_on_it(
    captured: Platform,
) -> None:
    before = _raw(captured)
    _assert_refused(captured, _capture(RAW_USERS, "2024-01-01"), before)


def test_the_landing_snapshot_is_refused_under_a_date_never_captured(captured: Platform) -> None:
    before = _raw(captured)
    _assert_refused(captured, _capture(RAW_USERS, "2024-01-05"), before)


def test_capturing_the_same_load_again_is_a_rerun(captured: Platform) -> None:
    before = _raw(captured)
    result = _capture(RAW_PAGEVIEWS, "2024-01-02-23:00")
    assert result.success and _materialized(result)
    assert _raw(captured) == before
    assert ACTION_REFUSED not in [kind for kind, _ in _alerts(captured)]


def test_a_later_hours_load_is_refused_under_an_earlier_hour(captured: Platform) -> None:
    """A load never captured (10:00 of the 3rd) materialized as 05:00: all its views are after
    05:00's window, so it is another hour's load."""
    later = datetime(2024, 1, 3, 10)
    captured.land_pageviews([(1, "/f", later), (2, "/g", later.replace(minute=40))])
    before = _raw(captured)
    _assert_refused(captured, _capture(RAW_PAGEVIEWS, "2024-01-03-05:00"), before)


def test_the_cli_takes_a_later_hours_load_as_the_hour_named_and_quarantines_its_future_views(
    captured: Platform,
) -> None:
    """The CLI's --hour is the operator naming the load: the rules then quarantine its views
    from after the window (after_load_window), and the verbatim copy keeps them."""
    later = datetime(2024, 1, 3, 10)
    captured.land_pageviews([(1, "/f", later), (2, "/g", later.replace(minute=40))])
    captured.ingest_pageviews("2024-01-03T05")
    assert captured.query(
        "SELECT reason, count(*) FROM core.pageviews_quarantine"
        " WHERE load_hour = '2024-01-03 05:00' GROUP BY ALL"
    ) == [("after_load_window", 2)]


def test_a_confirmed_fingerprint_replaces_the_captured_load_and_is_recorded(
    captured: Platform,
) -> None:
    """A re-extract of 05:00 with one view more replaces it only with the operator's say-so."""
    captured.land_pageviews(
        [(1, "/a", H5.replace(minute=3)), (2, "/b", H5.replace(minute=9)), (2, "/e", H5)]
    )
    before = _raw(captured)
    _assert_refused(captured, _capture(RAW_PAGEVIEWS, "2024-01-02-05:00"), before)
    [(rows, content)] = captured.query(
        "SELECT count(*), CAST(sum(hash(user_id, url, pageview_datetime)) AS VARCHAR)"
        " FROM landing.pageviews_extract"
    )
    result = _capture(RAW_PAGEVIEWS, "2024-01-02-05:00", confirm=f"{rows}:{content}")
    assert result.success and _materialized(result)
    assert captured.query(
        "SELECT count(*) FROM raw.pageviews_extract WHERE load_hour = '2024-01-02 05:00'"
    ) == [(3,)]
    [(asset, start, replaced, new, run_id)] = captured.query(
        "SELECT asset, partition_start, replaced_fingerprint, new_fingerprint, run_id"
        " FROM ops.capture_replacements"
    )
    assert (asset, start, new, run_id) == (
        "raw/pageviews_extract",
        H5,
        f"{rows}:{content}",
        result.run_id,
    )
    assert replaced.startswith("2:")


def test_a_confirmation_of_other_content_is_refused(captured: Platform) -> None:
    captured.land_pageviews([(1, "/a", H5.replace(minute=3))])
    before = _raw(captured)
    result = _capture(RAW_PAGEVIEWS, "2024-01-02-05:00", confirm="2:12345")
    _assert_refused(captured, result, before)


def test_the_cli_replaces_a_re_extracted_snapshot_and_records_it(captured: Platform) -> None:
    captured.land_users([(1, "NE1 1AA"), (2, "EF3 4GH")])
    captured.ingest_users("2024-01-02")
    assert captured.query(
        "SELECT postcode FROM raw.users_extract WHERE snapshot_date = '2024-01-02' AND id = 1"
    ) == [("NE1 1AA",)]
    assert captured.query("SELECT asset FROM ops.capture_replacements") == [("raw/users_extract",)]


def test_a_merge_of_an_hour_without_a_captured_load_materializes_nothing(
    captured: Platform,
) -> None:
    merge = defs().resolve_assets_def(AssetKey(["core", "pageview_fact"]))
    result = materialize([merge], partition_key="2024-01-02-10:00")
    assert result.success and not _materialized(result)


def test_the_cli_never_replaces_a_captured_hour_with_a_later_hours_load(
    captured: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ingest-pageviews --hour 2024-01-02T05` typed while the landing table holds 23:00's load."""
    before = _raw(captured)
    capsys.readouterr()
    assert captured.ingest_pageviews("2024-01-02T05", expect_ok=False) == 1
    err = capsys.readouterr().err.strip()
    assert "refused" in err and "never replaces" in err and "\n" not in err
    assert _raw(captured) == before


def test_the_cli_never_replaces_a_captured_hour_with_a_load_captured_as_another(
    captured: Platform,
) -> None:
    """22:00 captured, then 23:00's load (whose views fit 22:00's window) ingested as 22:00."""
    h22 = datetime(2024, 1, 2, 22)
    captured.land_pageviews([(1, "/h", h22.replace(minute=30))])
    captured.ingest_pageviews(h22)
    captured.land_pageviews([(1, "/c", H23.replace(minute=1)), (2, "/d", H23.replace(minute=7))])
    before = _raw(captured)
    assert captured.ingest_pageviews(h22, expect_ok=False) == 1
    assert _raw(captured) == before


def test_the_cli_never_stamps_the_latest_snapshot_over_an_earlier_captured_date(
    captured: Platform,
) -> None:
    before = _raw(captured)
    assert captured.ingest_users("2024-01-01", expect_ok=False) == 1
    assert _raw(captured) == before


def test_the_cli_takes_a_snapshot_identical_to_an_earlier_dates(captured: Platform) -> None:
    """Nobody moved: the 3rd's snapshot is the 2nd's, row for row."""
    captured.ingest_users("2024-01-03")
    assert captured.query(
        "SELECT count(*) FROM raw.users_extract WHERE snapshot_date = '2024-01-03'"
    ) == [(2,)]
