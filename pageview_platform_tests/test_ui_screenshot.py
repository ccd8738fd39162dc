"""Headless Chromium screenshots of the Dagster UI: the asset graph and a filled partition bar."""

import os
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from pageview_platform.ui_check import (
    blank,
    capture,
    find_browser,
    partition_bar,
    partition_counts,
)
from pageview_platform.ui_process import dagster_ui
from pageview_platform_tests.harness import platform_at

pytestmark = pytest.mark.skipif(
    find_browser() is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)

# Loads of yesterday (the start date), spread out so the bar shows separate green segments.
LOAD_HOURS = (0, 12)


def test_screenshots_show_the_asset_graph_and_the_loads_in_the_partition_bar(
    tmp_path: Path,
) -> None:
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), time())
    with platform_at(tmp_path / "platform", start_date=start.date().isoformat()) as platform:
        for hour in (start + timedelta(hours=offset) for offset in LOAD_HOURS):
            platform.land_pageviews(
                [(user, f"/page/{user}", hour + timedelta(minutes=user)) for user in range(1, 6)]
            )
            platform.ingest_pageviews(hour)
        names = ("DAGSTER_HOME", "PAGEVIEW_DUCKDB_PATH", "PAGEVIEW_START_DATE")
        with dagster_ui({name: os.environ[name] for name in names}, daemon=False) as ui:
            graph, partitions = capture(ui, tmp_path / "img")

    assert graph.path.name == "ui-asset-graph.png" and not blank(graph.path)
    for asset in ("pageviews_extract", "pageview_fact", "user_postcode_history"):
        assert asset in graph.text, f"the asset graph does not show {asset}"
    # The fact's node states a non-zero fill: its partitions hold the loads.
    assert re.search(r"\b[1-9]\d*% filled", graph.text), graph.text

    assert partitions.path.name == "ui-partitions.png" and not blank(partitions.path)
    materialized, total = partition_counts(partitions.text)
    # Every hour from yesterday 00:00 through the current one (the partitions' end_offset=1).
    assert materialized == len(LOAD_HOURS)
    assert 24 < total <= 48
    bar = partition_bar(partitions.path)
    assert bar.bar_pixels > 10_000, "no partition bar found in the screenshot"
    assert bar.materialized_pixels > 0, "the partition bar shows no materialized partition"
    # The green share of the bar is the materialized share of the partitions.
    assert bar.filled == pytest.approx(materialized / total, abs=0.02)
