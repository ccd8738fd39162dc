"""A range of partitions rebuilds in one run, and rebuilding it again changes nothing."""

from datetime import datetime

from pageview_platform.jobs import MERGE_PAGEVIEWS_LOADS, UPDATE_POSTCODE_HISTORY
from pageview_platform.runs import run_launcher
from pageview_platform.settings import get_settings
from pageview_platform_tests.harness import Platform

TABLES = (
    "core.user_postcode_history",
    "core.pageview_fact",
    "agg.pageviews_by_postcode_at_view_hourly",
    "agg.pageviews_by_current_postcode_hourly",
)


def _contents(platform: Platform) -> dict[str, list[tuple]]:
    return {table: platform.query(f"SELECT * FROM {table} ORDER BY ALL") for table in TABLES}


def test_range_backfills_run_once_and_reproduce_the_same_rows(platform: Platform) -> None:
    platform.land_users([(1, "AB1 2CD"), (2, "EF3 4GH")])
    platform.ingest_users("2024-01-01")
    platform.land_users([(1, "ZZ9 9ZZ"), (2, "EF3 4GH"), (3, "NE1 1AA")])
    platform.ingest_users("2024-01-02")
    platform.land_pageviews(
        [
            (1, "/a", datetime(2024, 1, 2, 5, 1)),
            (3, "/b", datetime(2024, 1, 1, 23, 59)),
            (2, "/c", datetime(2024, 1, 2, 6, 0)),
        ]
    )
    platform.ingest_pageviews("2024-01-02T05")
    before = _contents(platform)
    assert all(before.values())

    with run_launcher(get_settings().dagster_home) as launcher:
        history = launcher.run(UPDATE_POSTCODE_HISTORY, "2024-01-01", "2024-01-02")
        merge = launcher.run(MERGE_PAGEVIEWS_LOADS, "2024-01-01-00:00", "2024-01-02-23:00")
    assert history.partitions == "2024-01-01...2024-01-02"
    assert merge.partitions == "2024-01-01-00:00...2024-01-02-23:00"
    assert _contents(platform) == before
