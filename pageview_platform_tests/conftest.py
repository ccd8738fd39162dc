from collections.abc import Iterator
from pathlib import Path

import pytest

from pageview_platform_tests.harness import Platform, platform_at


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A fresh warehouse file and Dagster instance for one test."""
    with platform_at(tmp_path) as p:
        yield p


# These scenarios' Snowflake runs repeat what their DuckDB runs, the hand-built Snowflake
# scenario and the randomised Snowflake scenarios already show, at several times the cost on
# fakesnow (about 100 s of CI): `make test` leaves them to `make test-snowflake`.
SNOWFLAKE_EXTENDED = {
    "test_out_of_order_ingestion",
    "test_reingesting_a_load_or_snapshot_replaces_it",
    "test_ingesting_everything_twice_changes_nothing",
}


def _long_on_one_worker(item: pytest.Item) -> bool:
    return item.get_closest_marker("xdist_group") is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The UI module's tests share one webserver on one worker for minutes: started first, the
    # other worker takes everything else meanwhile instead of idling at the end.
    items.sort(key=lambda item: not _long_on_one_worker(item))
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            callspec is not None
            and callspec.params.get("platform") == "snowflake"
            and getattr(item, "originalname", None) in SNOWFLAKE_EXTENDED
        ):
            item.add_marker(pytest.mark.snowflake_extended)
