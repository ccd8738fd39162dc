"""The bench runs end to end and its baseline does the pipeline's work; never how fast either is."""

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pageview_platform import cli
from pageview_platform.bench.runner import ANSWER_VIEWS, BI_QUERIES, VIEW_NAMES, run_bench
from pageview_platform.simulator import Event, SimulationConfig

# The platform fixture points the environment at a scratch folder and restores it afterwards.
pytestmark = pytest.mark.usefixtures("platform")


def test_bench_reports_every_stage_of_both_sides(tmp_path: Path) -> None:
    results = tmp_path / "results"
    argv = ["bench", "--users", "200", "--pageviews-per-day", "2000", "--loads", "4"]
    assert cli.main([*argv, "--out", str(results), "--workdir", str(tmp_path / "work")]) == 0

    [written] = results.iterdir()
    report = json.loads(written.read_text())
    assert report["parameters"]["loads"] == 4
    assert set(report["kinds"]) == {"users", "pageviews"}
    for kind in report["kinds"].values():
        assert kind["pipeline_captured_rows"] == kind["baseline_captured_rows"] > 0
        assert [stage["stage"] for stage in kind["baseline"]][:3] == ["total", "open", "capture"]
        for stage in kind["baseline"]:
            assert stage["rows"] > 0, stage
        pipeline = {stage["stage"]: stage for stage in kind["pipeline"]}
        assert pipeline["total"]["rows"] > 0
        steps = [stage for name, stage in pipeline.items() if name.startswith("step ")]
        assert any(stage["rows"] for stage in steps), "no step wrote a row"
    assert len(report["bi_views"]) == len(VIEW_NAMES) * len(BI_QUERIES) * 2
    assert report["answers_differing_rows"] == {view: 0 for view in ANSWER_VIEWS}
    assert list((tmp_path / "work").iterdir()) == [], "the scratch folder was kept"


def test_baseline_answers_match_the_pipeline_on_a_clean_scenario(tmp_path: Path) -> None:
    clean = SimulationConfig(
        seed=7, users=300, pageviews_per_day=3000, days=2, bad_row_share=0, messy_share=0
    )
    # Day 2's snapshot arrives after views it re-attributes: the forward overlap of hour 23,
    # and the day-1 views of users it lists for the first time.
    events = [
        Event("users", date(2024, 1, 1)),
        Event("pageviews", datetime(2024, 1, 1, 22)),
        Event("pageviews", datetime(2024, 1, 1, 23)),
        Event("users", date(2024, 1, 2)),
        Event("pageviews", datetime(2024, 1, 2, 0)),
        Event("pageviews", datetime(2024, 1, 2, 1)),
    ]
    run_bench(clean, events, tmp_path, bi_repeats=1)

    pipeline, baseline = (
        _daily_answers(tmp_path / name) for name in ("warehouse.duckdb", "baseline.duckdb")
    )
    for view in ANSWER_VIEWS:
        assert pipeline[view], f"{view} is empty"
        assert baseline[view] == pipeline[view], view


def _daily_answers(database: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            view: con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
            for view in ANSWER_VIEWS
        }
