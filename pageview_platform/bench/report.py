"""A bench run summarised once, then printed as tables and written as JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pageview_platform.bench.floor import ALGORITHMIC, FLOOR
from pageview_platform.bench.measure import Stage
from pageview_platform.bench.runner import (
    OUTSIDE_STAGES,
    OUTSIDE_STEPS,
    PRODUCTION,
    BenchResult,
    LoadResult,
)

KINDS = {"users": "users snapshots", "pageviews": "pageviews loads"}
SIDE_ORDER = (PRODUCTION, FLOOR, ALGORITHMIC)
LEGEND = """\
production: one `pageview-platform ingest-users|ingest-pageviews` process per load, as
  production runs it; floor: the least plain DuckDB SQL giving the same six answers, one
  process per load too (bench/floor.py, sql/bench/floor/); algorithmic: the pipeline's own
  algorithm in plain SQL (--algorithmic). seconds: each process's wall time, start to exit.
peak RSS: the process's high-water mark (the kernel's rusage of that child), max over loads.
x floor: the side's seconds / the floor's. rows: captured rows on a side's line; on a step,
  what it wrote (its materializations' row count, - for a check); on a floor stage, what it
  takes in (lookup: the rows looked up in the fact). A step's parts (indented) are inside it.
warehouse checkpoint: the CLI's checkpoint of the warehouse after its runs (the runs' writes
  moved from the write-ahead log into the file, as the floor's commit does; a close would).
outside steps: the process's wall time outside its runs' steps and that checkpoint:
  interpreter start, imports, the Dagster instance, run creation and events."""


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _max(values: Iterable[int | None]) -> int | None:
    return max((value for value in values if value is not None), default=None)


def _stages(stages_per_load: list[list[Stage]], total: float) -> list[dict[str, Any]]:
    """A side's stages summed over loads, each after the stage it followed in a load.

    A step only some loads run (a snapshot's back-dated history) lands between its neighbours,
    not after the stages every load ends with.
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
    rows = []
    for name in order:
        stages = by_name[name]
        seconds = sum(stage.seconds for stage in stages)
        counted = [stage.rows for stage in stages if stage.rows is not None]
        rows.append(
            {
                "stage": name,
                "loads": len(stages),
                "seconds": seconds,
                "seconds_per_load": seconds / len(stages_per_load),
                "rows": sum(counted) if counted else None,
                "peak_rss_bytes": _max(stage.peak_rss_bytes for stage in stages),
                "share": _ratio(seconds, total),
            }
        )
    return rows


def _kind(loads: list[LoadResult], sides: Sequence[str]) -> dict[str, Any]:
    rows = sum(load.rows for load in loads)
    summary: dict[str, Any] = {"loads": len(loads), "rows": rows, "sides": {}, "stages": {}}
    for side in sides:
        seconds = sum(load.sides[side].seconds for load in loads)
        summary["sides"][side] = {
            "seconds": seconds,
            "seconds_per_load": seconds / len(loads),
            "rows_per_second": _ratio(rows, seconds),
            "peak_rss_bytes": max(load.sides[side].peak_rss_bytes for load in loads),
        }
        summary["stages"][side] = _stages([load.sides[side].stages for load in loads], seconds)
    seconds = {side: values["seconds"] for side, values in summary["sides"].items()}
    summary["ratio"] = _ratio(seconds[PRODUCTION], seconds[FLOOR])
    summary["ratio_to_algorithmic"] = _ratio(seconds[PRODUCTION], seconds.get(ALGORITHMIC))
    outside = [
        stage.seconds
        for load in loads
        for stage in load.sides[PRODUCTION].stages
        if stage.name == OUTSIDE_STEPS
    ]
    summary["outside_steps"] = {
        "seconds_per_load": statistics.fmean(outside),
        "min": min(outside),
        "max": max(outside),
    }
    summary["dagster_runs"] = sum(len(load.runs) for load in loads)
    summary["dagster_events"] = sum(run["events"] for load in loads for run in load.runs)
    return summary


def summarise(result: BenchResult) -> dict[str, Any]:
    """The JSON document: parameters, machine, sides per kind of load, totals, BI views, loads."""
    sides = [side for side in SIDE_ORDER if side in result.loads[0].sides]
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        loads = [load for load in result.loads if load.kind == kind]
        if loads:
            kinds[kind] = _kind(loads, sides)
    totals = {
        side: sum(kind["sides"][side]["seconds"] for kind in kinds.values()) for side in sides
    }
    generation = [load.generation for load in result.loads]
    outside = [stage for load in result.loads for stage in load.sides[PRODUCTION].stages]
    floor_start = [stage for load in result.loads for stage in load.sides[FLOOR].stages]
    return {
        "parameters": result.parameters,
        "machine": result.machine,
        "kinds": kinds,
        "totals": {
            "seconds": totals,
            "ratio": _ratio(totals[PRODUCTION], totals[FLOOR]),
            "ratio_to_algorithmic": _ratio(totals[PRODUCTION], totals.get(ALGORITHMIC)),
            "generation_seconds": sum(stage.seconds for stage in generation),
            "generated_rows": sum(stage.rows or 0 for stage in generation),
            "outside_steps_seconds_per_load": statistics.fmean(
                stage.seconds for stage in outside if stage.name == OUTSIDE_STEPS
            ),
            "floor_outside_stages_seconds_per_load": statistics.fmean(
                stage.seconds for stage in floor_start if stage.name == OUTSIDE_STAGES
            ),
        },
        "bi_views": [
            {**timing, "ratio": _ratio(timing["production_ms"], timing["floor_ms"])}
            for timing in result.bi_views
        ],
        "answers_differing_rows": result.answers,
        "loads": [
            {
                "kind": load.kind,
                "key": load.key,
                "rows": load.rows,
                "generation": asdict(load.generation),
                **{
                    side: {
                        "seconds": run.seconds,
                        "peak_rss_bytes": run.peak_rss_bytes,
                        "stages": [asdict(stage) for stage in run.stages],
                    }
                    for side, run in load.sides.items()
                },
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


def _loads(count: int) -> str:
    return f"{count} load" if count == 1 else f"{count} loads"


def _kind_lines(kind: str, summary: dict[str, Any]) -> list[str]:
    title = f"{KINDS[kind]}: {_loads(summary['loads'])}, {summary['rows']:,} rows captured"
    floor_seconds = summary["sides"][FLOOR]["seconds"]
    lines = [
        f"{title:<44}{'seconds':>10}{'s/load':>10}{'rows/s':>12}{'peak RSS':>11}{'x floor':>9}"
    ]
    for side, values in summary["sides"].items():
        ratio = _ratio(values["seconds"], floor_seconds)
        lines.append(
            f"  {side:<42}{values['seconds']:>10.2f}{values['seconds_per_load']:>10.3f}"
            f"{_number(values['rows_per_second'], '{:,.0f}'):>12}"
            f"{_mib(values['peak_rss_bytes']):>11}{_number(ratio, '{:.2f}x'):>9}"
        )
    if summary["ratio_to_algorithmic"] is not None:
        lines.append(f"  production / algorithmic baseline: {summary['ratio_to_algorithmic']:.2f}x")
    return lines


def _stage_lines(kind: str, summary: dict[str, Any]) -> list[str]:
    labelled = []
    for side, stages in summary["stages"].items():
        labelled.append((f"  {side} (process wall)", summary["sides"][side], 1.0))
        labelled.extend((f"    {stage['stage']}", stage, stage["share"]) for stage in stages)
    width = max(len(label) for label, _, _ in labelled) + 2
    title = f"where the time goes, {KINDS[kind]} ({_loads(summary['loads'])})"
    width = max(width, len(title) + 2)
    lines = [f"{title:<{width}}{'seconds':>10}{'s/load':>10}{'rows':>13}{'share':>7}"]
    for label, row, share in labelled:
        lines.append(
            f"{label:<{width}}{row['seconds']:>10.2f}{row['seconds_per_load']:>10.3f}"
            f"{_number(row.get('rows'), '{:,}'):>13}{_number(share, '{:.0%}'):>7}"
        )
    return lines


def _bi_lines(timings: list[dict[str, Any]], repeats: int) -> list[str]:
    labels = {(t["view"], t["query"]): f"{t['view']} · {t['query']}" for t in timings}
    width = max(len(label) for label in labels.values()) + 4
    lines = [
        f"{'BI queries, median of ' + str(repeats) + ' (ms)':<{width}}"
        f"{'day: production':>17}{'floor':>9}{'ratio':>8}"
        f"{'month: production':>19}{'floor':>9}{'ratio':>8}"
    ]
    by_view: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for timing in timings:
        by_view.setdefault((timing["view"], timing["query"]), {})[timing["window"]] = timing
    for key, windows in by_view.items():
        day, month = windows["day"], windows["month"]
        lines.append(
            f"  {labels[key]:<{width - 2}}{day['production_ms']:>17.2f}{day['floor_ms']:>9.2f}"
            f"{_number(day['ratio'], '{:.2f}x'):>8}{month['production_ms']:>19.2f}"
            f"{month['floor_ms']:>9.2f}{_number(month['ratio'], '{:.2f}x'):>8}"
        )
    return lines


def _answer_lines(answers: dict[str, dict[str, int]]) -> list[str]:
    lines = []
    for side, differing in answers.items():
        wrong = {view: n for view, n in differing.items() if n}
        if wrong:
            lines.append(
                f"answers DIFFER ({side}): "
                + ", ".join(f"{view} {n:,} rows" for view, n in wrong.items())
            )
        else:
            lines.append(f"answers: the {side}'s six match production's row for row")
    return lines


def render(summary: dict[str, Any]) -> str:
    """The printed report: parameters, a table per kind of load, the steps, fixed cost, BI."""
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
        lines += [*_kind_lines(kind, kind_summary), ""]
    seconds = totals["seconds"]
    lines += [
        f"total: production {seconds[PRODUCTION]:.1f} s, floor {seconds[FLOOR]:.1f} s,"
        f" production / floor {_number(totals['ratio'], '{:.2f}x')}"
        + (
            f"; algorithmic baseline {seconds[ALGORITHMIC]:.1f} s,"
            f" production / algorithmic {_number(totals['ratio_to_algorithmic'], '{:.2f}x')}"
            if ALGORITHMIC in seconds
            else ""
        ),
        f"generation: {totals['generation_seconds']:.1f} s for {totals['generated_rows']:,} rows"
        " (in no total)",
        "",
    ]
    fixed = [
        f"{KINDS[kind]} {kind_summary['outside_steps']['seconds_per_load']:.2f} s"
        f" (min {kind_summary['outside_steps']['min']:.2f}, max"
        f" {kind_summary['outside_steps']['max']:.2f})"
        for kind, kind_summary in summary["kinds"].items()
    ]
    lines += [
        f"fixed cost: production spends {totals['outside_steps_seconds_per_load']:.2f} s a load"
        f" outside its steps ({'; '.join(fixed)}); the floor's process start and imports take"
        f" {totals['floor_outside_stages_seconds_per_load']:.2f} s a load",
        "",
    ]
    if "pageviews" in summary["kinds"]:
        lines += [*_stage_lines("pageviews", summary["kinds"]["pageviews"]), ""]
    lines += [*_bi_lines(summary["bi_views"], parameters["bi_repeats"]), ""]
    lines += [*_answer_lines(summary["answers_differing_rows"]), "", LEGEND]
    return "\n".join(lines)


def write_json(summary: dict[str, Any], folder: Path, suffix: str = "") -> Path:
    """Writes the summary as FOLDER/<UTC timestamp><SUFFIX>.json; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}{suffix}.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _fit(points: list[tuple[int, float]]) -> dict[str, float] | None:
    """Seconds per load = fixed + per_million_rows x rows / 1e6, least squares over loads."""
    if len({rows for rows, _ in points}) < 2:
        return None
    slope, intercept = statistics.linear_regression(
        [rows for rows, _ in points], [seconds for _, seconds in points]
    )
    return {"fixed_seconds": intercept, "seconds_per_million_rows": slope * 1e6}


def scaling(runs: Sequence[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    """One row per scale of the pageviews loads (per-load means), and straight-line fits of each
    side's seconds per load over the loads' rows, every scale's loads together."""
    rows = []
    points: dict[str, list[tuple[int, float]]] = {PRODUCTION: [], FLOOR: []}
    for scale, summary in runs:
        if "pageviews" not in summary["kinds"]:
            continue
        pageviews = summary["kinds"]["pageviews"]
        sides = pageviews["sides"]
        rows.append(
            {
                "scale": scale,
                "users": summary["parameters"]["users"],
                "pageviews_per_day": summary["parameters"]["pageviews_per_day"],
                "loads": pageviews["loads"],
                "rows_per_load": pageviews["rows"] / pageviews["loads"],
                "production_seconds_per_load": sides[PRODUCTION]["seconds_per_load"],
                "floor_seconds_per_load": sides[FLOOR]["seconds_per_load"],
                "ratio": pageviews["ratio"],
                "production_rows_per_second": sides[PRODUCTION]["rows_per_second"],
                "floor_rows_per_second": sides[FLOOR]["rows_per_second"],
                "production_peak_rss_bytes": sides[PRODUCTION]["peak_rss_bytes"],
                "floor_peak_rss_bytes": sides[FLOOR]["peak_rss_bytes"],
            }
        )
        for load in summary["loads"]:
            if load["kind"] == "pageviews":
                for side in points:
                    points[side].append((load["rows"], load[side]["seconds"]))
    return {"scales": rows, "fits": {side: _fit(found) for side, found in points.items()}}


def render_scaling(table: dict[str, Any]) -> str:
    lines = [
        "scaling, pageviews loads (per load, mean)",
        f"{'scale':>6}{'users':>12}{'pageviews/day':>15}{'rows/load':>12}{'production s':>14}"
        f"{'floor s':>9}{'ratio':>8}{'production rows/s':>19}{'floor rows/s':>14}"
        f"{'prod. peak RSS':>16}",
    ]
    for row in table["scales"]:
        lines.append(
            f"{row['scale']:>5g}x{row['users']:>12,}{row['pageviews_per_day']:>15,}"
            f"{row['rows_per_load']:>12,.0f}{row['production_seconds_per_load']:>14.3f}"
            f"{row['floor_seconds_per_load']:>9.3f}{_number(row['ratio'], '{:.2f}x'):>8}"
            f"{_number(row['production_rows_per_second'], '{:,.0f}'):>19}"
            f"{_number(row['floor_rows_per_second'], '{:,.0f}'):>14}"
            f"{_mib(row['production_peak_rss_bytes']):>16}"
        )
    for side, fit in table["fits"].items():
        if fit is not None:
            lines.append(
                f"fit over every load, {side}: {fit['fixed_seconds']:.3f} s a load +"
                f" {fit['seconds_per_million_rows']:.3f} s per million rows"
            )
    return "\n".join(lines)
