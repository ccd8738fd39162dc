"""A capture copies the landing table as it is now, so it never runs over more than one load."""

from datetime import date

from dagster import AssetKey, materialize

from pageview_platform.definitions import defs
from pageview_platform_tests.harness import Platform


def _capture_users(tags: dict[str, str], partition_key: str | None = None) -> bool:
    definitions = defs()
    capture = definitions.resolve_assets_def(AssetKey(["raw", "users_extract"]))
    result = materialize(
        [capture],
        partition_key=partition_key,
        tags=tags,
        raise_on_error=False,
    )
    return result.success


def _captured(platform: Platform) -> list[tuple]:
    return platform.query("SELECT snapshot_date, id FROM raw.users_extract ORDER BY ALL")


def test_capture_refuses_a_partition_range(platform: Platform) -> None:
    platform.land_users([(1, "AB1 2CD")])
    platform.ingest_users("2024-01-02")
    before = _captured(platform)
    range_tags = {
        "dagster/asset_partition_range_start": "2024-01-01",
        "dagster/asset_partition_range_end": "2024-01-03",
    }
    assert not _capture_users(range_tags)
    assert _captured(platform) == before


def test_capture_refuses_to_run_inside_a_backfill(platform: Platform) -> None:
    platform.land_users([(1, "AB1 2CD")])
    platform.ingest_users("2024-01-02")
    before = _captured(platform)
    assert not _capture_users({"dagster/backfill": "abc"}, partition_key="2024-01-01")
    assert _captured(platform) == before


def test_capture_of_one_partition_outside_a_backfill_is_fine(platform: Platform) -> None:
    platform.land_users([(1, "AB1 2CD")])
    assert _capture_users({}, partition_key=date(2024, 1, 1).isoformat())
    assert platform.query("SELECT id, postcode FROM raw.users_extract") == [(1, "AB1 2CD")]
