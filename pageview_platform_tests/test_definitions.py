"""The code location loads as the UI loads it, and every asset says what it is for."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from pageview_platform.definitions import defs

REPO = Path(__file__).resolve().parent.parent

EXPECTED_ASSETS = {
    ("raw", "users_extract"),
    ("raw", "pageviews_extract"),
    ("core", "users_quarantine"),
    ("core", "pageviews_quarantine"),
    ("core", "user_postcode_history"),
    ("core", "pageview_fact"),
    ("agg", "pageviews_by_postcode_at_view_hourly"),
    ("agg", "pageviews_by_current_postcode_hourly"),
    ("agg", "pageviews_by_postcode_at_view_daily"),
    ("agg", "pageviews_by_postcode_at_view_monthly"),
    ("agg", "pageviews_by_current_postcode_daily"),
    ("agg", "pageviews_by_current_postcode_monthly"),
    ("agg", "current_postcode_by_user"),
    ("ops", "quarantine_summary"),
    *(
        ("bi", f"pageviews_by_{question}_{grain}")
        for question in ("postcode_at_view", "current_postcode")
        for grain in ("hourly", "daily", "monthly")
    ),
}


def test_asset_graph_holds_every_stage_of_the_path() -> None:
    graph = defs().resolve_asset_graph()
    assert {tuple(key.path) for key in graph.get_all_asset_keys()} == EXPECTED_ASSETS


def test_every_asset_has_a_description_and_utc_partitions() -> None:
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key.to_user_string()} has no description"
        # The bi views (and the file publishing them) answer for every partition at once.
        if key.path[0] != "bi":
            assert node.partitions_def.timezone == "UTC"


def test_fact_reads_the_history_and_the_loads() -> None:
    graph = defs().resolve_asset_graph()
    parents = graph.get(AssetKey(["core", "pageview_fact"])).parent_keys
    assert parents == {
        AssetKey(["raw", "pageviews_extract"]),
        AssetKey(["core", "user_postcode_history"]),
    }


def test_dagster_definitions_validate_passes_on_the_workspace(tmp_path: Path) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
