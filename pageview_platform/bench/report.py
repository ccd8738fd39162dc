"""A bench run summarised once, then printed as tables and written as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pageview_platform.bench.measure import Stage
from pageview_platform.bench.runner import TOTAL, BenchResult

KINDS = {"users": "users snapshots", "pageviews": "pageviews loads"}
SIDES = ("pipeline", "baseline")
LEGEND = """\
rows: captured rows on total, open/close and Dagster-overhead lines; what a pipeline step wrote
  (its materializations' row count, - for a check); what a baseline stage takes in (changed
  users, changed views). share: of the side's total. ratio: pipeline total / baseline total.
Dagster overhead: the ingest's wall time outside its runs' steps (run set-up, event writes,
  Ingest's planning queries); a step's time includes the events it writes, one
  materialization per asset and partition.
peak RSS: the process's high-water mark during the stage (max over loads). peak DuckDB:
  sum(memory_usage_bytes) of duckdb_memory(), sampled every 20 ms on the baseline only: a
  sampling connection would keep the warehouse open between the pipeline's connections and
  spare it the opens and checkpoints it pays."""


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _max(values: Iterable[int | None]) -> int | None:
    return max((value for value in values if value is not None), default=None)


def _aggregate(name: str, stages: list[Stage]) -> dict[str, Any]:
    seconds = sum(stage.seconds for stage in stages)
    counted = [stage.rows for stage in stages if stage.rows is not None]
    rows = sum(counted) if counted else None
    return {
        "stage": name,
        "loads": len(stages),
        "seconds": seconds,
        "rows": rows,
        "rows_per_second": None if rows is None else _ratio(rows, seconds),
        "peak_rss_bytes": _max(stage.peak_rss_bytes for stage in stages),
        "peak_duckdb_bytes": _max(stage.peak_duckdb_bytes for stage in stages),
    }


def _side(stages_per_load: list[list[Stage]]) -> list[dict[str, Any]]:
    """A side's stages summed over loads, total first, each after the stage it followed in a load.

    A step only some loads run (a snapshot's attribution) lands between its neighbours, not
    after the stages every load ends with.
    """
    order: list[str] = []
    by_name: dict[str, list[Stage]] = {}
    for stages in stages_per_load:
        previous: str | None = None
        for stage in stages:
            if stage.name not in by_name:
                at = len(order) if previous is None else order.index(previous) + 1
                order.insert(at, stage.name)
                by_name[stage.name] = []
            by_name[stage.name].append(stage)
            previous = stage.name
    rows = [_aggregate(name, by_name[name]) for name in order]
    total = rows[0]["seconds"]
    for row in rows:
        row["share"] = _ratio(row["seconds"], total)
    return rows


def summarise(result: BenchResult) -> dict[str, Any]:
    """The JSON document: parameters, machine, stages per kind of load, totals, BI views."""
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        loads = [load for load in result.loads if load.kind == kind]
        if not loads:
            continue
        pipeline = _side([load.pipeline for load in loads])
        baseline = _side([load.baseline for load in loads])
        captured = {stage["stage"]: stage["rows"] for stage in baseline}["capture"]
        kinds[kind] = {
            "loads": len(loads),
            "pipeline": pipeline,
            "baseline": baseline,
            "pipeline_seconds": pipeline[0]["seconds"],
            "baseline_seconds": baseline[0]["seconds"],
            "ratio": _ratio(pipeline[0]["seconds"], baseline[0]["seconds"]),
            "pipeline_captured_rows": pipeline[0]["rows"],
            "baseline_captured_rows": captured,
            "dagster_runs": sum(len(load.runs) for load in loads),
            "dagster_events": sum(run["events"] for load in loads for run in load.runs),
        }
    pipeline_seconds = sum(kind["pipeline_seconds"] for kind in kinds.values())
    baseline_seconds = sum(kind["baseline_seconds"] for kind in kinds.values())
    generation = [load.generation for load in result.loads]
    return {
        "parameters": result.parameters,
        "machine": result.machine,
        "kinds": kinds,
        "totals": {
            "pipeline_seconds": pipeline_seconds,
            "baseline_seconds": baseline_seconds,
            "ratio": _ratio(pipeline_seconds, baseline_seconds),
            "generation_seconds": sum(stage.seconds for stage in generation),
            "generated_rows": sum(stage.rows for stage in generation),
        },
        "bi_views": [
            {
                **timing,
                "ratio": _ratio(timing["pipeline_ms"], timing["baseline_ms"]),
            }
            for timing in result.bi_views
        ],
        "answers_differing_rows": result.answers,
        "loads": [
            {
                "kind": load.kind,
                "key": load.key,
                "generation": asdict(load.generation),
                "pipeline": [asdict(stage) for stage in load.pipeline],
                "baseline": [asdict(stage) for stage in load.baseline],
                "runs": load.runs,
            }
            for load in result.loads
        ],
    }


def _mib(value: int | None) -> str:
    if value is None:
        return "-"
    mib = value / 2**20
    return f"{mib:,.1f} MiB" if mib < 10 else f"{mib:,.0f} MiB"


def _number(value: float | None, template: str) -> str:
    return "-" if value is None else template.format(value)


def _stage_lines(kind: str, summary: dict[str, Any]) -> list[str]:
    lines = []
    for side in SIDES:
        for row in summary[side]:
            is_total = row["stage"] == TOTAL
            name = f"  {side} {TOTAL}" if is_total else f"    {row['stage']}"
            ratio = (summary["ratio"] if side == "pipeline" else 1.0) if is_total else None
            lines.append((name, row, ratio))
    title = f"{KINDS[kind]} ({summary['loads']} loads)"
    width = max(len(name) for name, _, _ in lines) + 2
    width = max(width, len(title) + 2)
    header = (
        f"{title:<{width}}{'seconds':>10}{'rows':>13}{'rows/s':>12}{'peak RSS':>11}"
        f"{'peak DuckDB':>13}{'share':>7}{'ratio':>8}"
    )
    return [
        header,
        *(
            f"{name:<{width}}{row['seconds']:>10.3f}{_number(row['rows'], '{:,}'):>13}"
            f"{_number(row['rows_per_second'], '{:,.0f}'):>12}{_mib(row['peak_rss_bytes']):>11}"
            f"{_mib(row['peak_duckdb_bytes']):>13}{_number(row['share'], '{:.0%}'):>7}"
            f"{_number(ratio, '{:.2f}x'):>8}"
            for name, row, ratio in lines
        ),
        f"  Dagster: {summary['dagster_runs']:,} runs wrote {summary['dagster_events']:,} events"
        f" to the instance ({summary['dagster_events'] / summary['loads']:,.0f} per load)",
    ]


def _bi_lines(timings: list[dict[str, Any]], repeats: int) -> list[str]:
    labels = {(t["view"], t["query"]): f"{t['view']} · {t['query']}" for t in timings}
    width = max(len(label) for label in labels.values()) + 4
    lines = [
        f"{'BI queries, median of ' + str(repeats) + ' (ms)':<{width}}"
        f"{'day: pipeline':>15}{'baseline':>10}{'ratio':>8}"
        f"{'month: pipeline':>17}{'baseline':>10}{'ratio':>8}"
    ]
    by_query: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for timing in timings:
        by_query.setdefault((timing["view"], timing["query"]), {})[timing["window"]] = timing
    for key, windows in by_query.items():
        day, month = windows["day"], windows["month"]
        lines.append(
            f"  {labels[key]:<{width - 2}}{day['pipeline_ms']:>15.2f}{day['baseline_ms']:>10.2f}"
            f"{_number(day['ratio'], '{:.2f}x'):>8}{month['pipeline_ms']:>17.2f}"
            f"{month['baseline_ms']:>10.2f}{_number(month['ratio'], '{:.2f}x'):>8}"
        )
    return lines


def render(summary: dict[str, Any]) -> str:
    """The printed report: parameters, one table per kind of load, totals, BI views."""
    parameters, machine, totals = summary["parameters"], summary["machine"], summary["totals"]
    memory = machine["memory_bytes"]
    lines = [
        f"bench: {parameters['users']:,} users, {parameters['pageviews_per_day']:,} pageviews/day,"
        f" {parameters['days']} days from {parameters['start_date']}, seed {parameters['seed']}:"
        f" {parameters['loads']} loads",
        f"machine: {machine['cpu_count']} CPUs, "
        f"{'?' if memory is None else f'{memory / 2**30:.1f} GiB'}; DuckDB {machine['duckdb']}"
        f" (memory_limit {machine['duckdb_memory_limit']}, {machine['duckdb_threads']} threads);"
        f" Dagster {machine['dagster']}",
        "",
    ]
    for kind, kind_summary in summary["kinds"].items():
        lines += [*_stage_lines(kind, kind_summary), ""]
    lines += [
        f"total: pipeline {totals['pipeline_seconds']:.1f} s, baseline"
        f" {totals['baseline_seconds']:.1f} s, ratio {_number(totals['ratio'], '{:.2f}x')};"
        f" generation {totals['generation_seconds']:.1f} s for {totals['generated_rows']:,} rows"
        " (in neither)",
        "",
        *_bi_lines(summary["bi_views"], parameters["bi_repeats"]),
        "",
    ]
    differing = {view: n for view, n in summary["answers_differing_rows"].items() if n}
    if differing:
        lines.append(
            "daily answers DIFFER: "
            + ", ".join(f"{view} {n:,} rows" for view, n in differing.items())
        )
    else:
        lines.append("daily answers: the baseline's match the pipeline's row for row")
    lines += ["", LEGEND]
    return "\n".join(lines)


def write_json(summary: dict[str, Any], folder: Path) -> Path:
    """Writes the summary as FOLDER/<UTC timestamp>.json; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return path
