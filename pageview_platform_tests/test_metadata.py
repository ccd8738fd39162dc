"""Each materialization carries the numbers the UI plots over partitions."""

from datetime import datetime

import dagster as dg

from pageview_platform.runs import ensure_dagster_home
from pageview_platform.settings import get_settings
from pageview_platform_tests.harness import Platform


def _metadata(key: list[str]) -> dict[str, object]:
    ensure_dagster_home(get_settings().dagster_home)
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def test_load_capture_reports_rows_late_rows_overlap_and_users(platform: Platform) -> None:
    platform.land_pageviews(
        [
            (1, "/a", datetime(2024, 1, 2, 5, 10)),
            (2, "/b", datetime(2024, 1, 2, 6, 1)),
            (2, "/late", datetime(2024, 1, 1, 22, 0)),
            (None, "/bad", datetime(2024, 1, 2, 5, 0)),
        ]
    )
    platform.ingest_pageviews("2024-01-02T05")
    capture = _metadata(["raw", "pageviews_extract"])
    assert capture["dagster/partition_row_count"] == 4
    assert (capture["late_rows"], capture["next_hour_rows"]) == (1, 1)
    assert capture["approx_distinct_users"] == 2
    quarantine = _metadata(["core", "pageviews_quarantine"])
    assert (quarantine["quarantined_rows"], quarantine["missing_user_id"]) == (1, 1)
    fact = _metadata(["core", "pageview_fact"])
    assert (fact["new_pageviews"], fact["late_pageviews"], fact["hours_touched"]) == (3, 1, 3)
    assert (fact["unknown_postcode_pageviews"], fact["replaced_loads"]) == (3, 0)


def test_history_reports_new_and_moved_users(platform: Platform) -> None:
    platform.land_users([(1, "AB1 2CD"), (2, "EF3 4GH")])
    platform.ingest_users("2024-01-01")
    platform.land_users([(1, "AB1 2CD"), (2, "ZZ9 9ZZ"), (3, "NE1 1AA")])
    platform.ingest_users("2024-01-02")
    history = _metadata(["core", "user_postcode_history"])
    assert (history["new_users"], history["moved_users"]) == (1, 1)
    # No views yet: nothing to re-attribute, but both users count under their new postcode.
    assert history["views_reattributed_at_view"] == 0
    assert history["users_moved_in_current_aggregate"] == 2
    snapshot = _metadata(["raw", "users_extract"])
    assert snapshot["distinct_users"] == 3
