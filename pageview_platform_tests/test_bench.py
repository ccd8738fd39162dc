"""The bench runs end to end and its baseline does the pipeline's work; never how fast either is."""

import json
from pathlib import Path

import pytest

from pageview_platform import cli
from pageview_platform.bench.runner import ANSWER_VIEWS

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
    assert len(report["bi_views"]) == 12
    assert report["answers_differing_rows"] == {view: 0 for view in ANSWER_VIEWS}
    assert list((tmp_path / "work").iterdir()) == [], "the scratch folder was kept"
