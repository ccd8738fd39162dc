"""The bench runs end to end, production and the floor give the same six answers, and every stage
is reported; never how fast either is."""

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pageview_platform import cli
from pageview_platform.bench import floor
from pageview_platform.bench.baseline import Baseline
from pageview_platform.bench.report import render_scaling, scaling
from pageview_platform.bench.runner import (
    BI_QUERIES,
    CHECKPOINT,
    OUTSIDE_STAGES,
    OUTSIDE_STEPS,
    VIEW_NAMES,
)
from pageview_platform.simulator import Event, SimulationConfig, Simulator

# The platform fixture points the environment at a scratch folder and restores it afterwards.
pytestmark = pytest.mark.usefixtures("platform")

FLOOR_STAGES = {
    "users": [
        "open",
        "capture",
        "change detection",
        "history",
        "current-postcode delta",
        "at-view re-attribution",
        "close (checkpoint)",
        OUTSIDE_STAGES,
    ],
    "pageviews": [
        "open",
        "capture",
        "in-load dedup",
        "lookup",
        "point-in-time attribution",
        "fact insert",
        "hourly aggregates",
        "commit",
        "close (checkpoint)",
        OUTSIDE_STAGES,
    ],
}


def test_bench_runs_production_and_the_floor_per_load_with_the_same_answers(
    tmp_path: Path,
) -> None:
    # Three loads, each a production CLI process (several seconds each): a users snapshot, then
    # two hourly loads, the second repeating the first's last minutes (looked up in the fact).
    results = tmp_path / "results"
    argv = ["bench", "--users", "200", "--pageviews-per-day", "2000", "--loads", "3"]
    assert cli.main([*argv, "--out", str(results), "--workdir", str(tmp_path / "work")]) == 0

    [written] = results.iterdir()
    report = json.loads(written.read_text())
    assert report["parameters"]["loads"] == 3
    assert report["answers_differing_rows"] == {"floor": {view: 0 for view in VIEW_NAMES}}
    assert set(report["kinds"]) == {"users", "pageviews"}
    for kind, summary in report["kinds"].items():
        assert summary["rows"] > 0
        for side in ("production", "floor"):
            assert summary["sides"][side]["seconds"] > 0
            assert summary["sides"][side]["peak_rss_bytes"] > 0
        production = {stage["stage"]: stage for stage in summary["stages"]["production"]}
        steps = [stage for name, stage in production.items() if name.startswith("step ")]
        assert any(stage["rows"] for stage in steps), "no step wrote a row"
        assert production[OUTSIDE_STEPS]["seconds"] > 0
        # The warehouse checkpoint after the runs, apart from the fixed cost (the CLI prints it
        # to the hundredth: 0.00 s on loads this small).
        assert production[CHECKPOINT]["seconds"] >= 0
        assert [stage["stage"] for stage in summary["stages"]["floor"]] == FLOOR_STAGES[kind]
        assert summary["dagster_runs"] == summary["loads"]
    assert len(report["bi_views"]) == len(VIEW_NAMES) * len(BI_QUERIES) * 2
    for load in report["loads"]:
        assert load["rows"] > 0 and load["runs"]
        [capture] = [stage for stage in load["floor"]["stages"] if stage["name"] == "capture"]
        assert capture["rows"] == load["rows"], "the floor captured another load"
        assert load["production"]["seconds"] > 0 and load["floor"]["seconds"] > 0
    assert list((tmp_path / "work").iterdir()) == [], "the scratch folder was kept"

    table = scaling([(0.5, report), (1.0, report)])
    assert [row["scale"] for row in table["scales"]] == [0.5, 1.0]
    assert table["fits"]["floor"] is not None
    assert "0.5x" in render_scaling(table)


def test_a_bad_scale_is_refused_before_anything_runs(tmp_path: Path) -> None:
    assert cli.main(["bench", "--scale", "1,0", "--out", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []


def test_the_floor_answers_as_the_algorithmic_baseline_over_late_rows_and_a_new_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Loads repeat their neighbours' edge minutes and carry earlier hours' late rows (looked up),
    # double clicks and bad rows; day 2's snapshot re-attributes day 1's views of the users it
    # lists first and of movers, and the forward overlap of hour 23.
    simulation = SimulationConfig(seed=11, users=300, pageviews_per_day=30000, days=2)
    day_1, day_2 = date(2024, 1, 1), date(2024, 1, 2)
    events = [
        Event("users", day_1),
        *(Event("pageviews", datetime(2024, 1, 1, hour)) for hour in range(19, 24)),
        Event("users", day_2),
        *(Event("pageviews", datetime(2024, 1, 2, hour)) for hour in range(3)),
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    config = {"threads": 2, "memory_limit": "1GB"}
    floor_file, baseline_file = tmp_path / "floor.duckdb", tmp_path / "baseline.duckdb"
    floor.Floor(floor_file, config, simulation.start_date).create()
    baseline = Baseline(baseline_file, config, simulation.start_date)
    baseline.create()
    simulator = Simulator(simulation)
    looked_up = 0
    for event in events:
        with duckdb.connect(str(warehouse)) as con:
            if event.kind == "users":
                simulator.write_users_snapshot(con, event.key)
            else:
                simulator.write_pageviews_load(con, event.key)
        if event.kind == "users":
            baseline.users(event.key, warehouse)
            key = ["users", "--date", event.key.isoformat()]
        else:
            baseline.pageviews(event.key, warehouse)
            key = ["pageviews", "--hour", f"{event.key:%Y-%m-%dT%H}"]
        # The floor as the bench runs it, through its command line (here in-process).
        common = ["--database", str(floor_file), "--warehouse", str(warehouse)]
        assert floor.main([*key, *common, "--start-date", "2024-01-01", "--config=threads=2"]) == 0
        stages = json.loads(capsys.readouterr().out)["stages"]
        assert [stage["name"] for stage in stages] == FLOOR_STAGES[event.kind][:-1]
        looked_up += sum(stage["rows"] for stage in stages if stage["name"] == "lookup")
    assert looked_up > 0, "no row was looked up in the fact"

    floor_answers, baseline_answers = (
        _answers(database) for database in (floor_file, baseline_file)
    )
    for view in VIEW_NAMES:
        assert floor_answers[view], f"{view} is empty"
        assert floor_answers[view] == baseline_answers[view], view
    assert floor_answers["fact"] == baseline_answers["fact"]


def _answers(database: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as con:
        answers = {
            view: con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
            for view in VIEW_NAMES
        }
        answers["fact"] = con.execute(
            "SELECT user_id, url, pageview_datetime, view_count, postcode_at_view"
            " FROM pageview_fact ORDER BY ALL"
        ).fetchall()
    return answers
