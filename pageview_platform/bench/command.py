"""`pageview-platform bench`: scratch folders, the runs, the printed tables and the JSON."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from pageview_platform.bench.progress import LoadProgress
from pageview_platform.bench.report import render, render_scaling, scaling, summarise, write_json
from pageview_platform.bench.runner import BenchFailed, first_loads, run_bench
from pageview_platform.settings import REPO_ROOT, Settings, SettingsError
from pageview_platform.simulator import SimulationConfig

RESULTS = REPO_ROOT / "bench_results"


def parse_scales(text: str | None) -> list[float]:
    """--scale: comma-separated positive multiples; one run at 1x without it."""
    if text is None:
        return [1.0]
    try:
        scales = [float(part) for part in text.split(",")]
    except ValueError:
        scales = []
    if not scales or not all(0 < scale < float("inf") for scale in scales):
        raise SettingsError(f"bench --scale: positive numbers, comma-separated, got {text!r}")
    return scales


def _simulation(settings: Settings, args: argparse.Namespace, scale: float) -> SimulationConfig:
    return SimulationConfig(
        seed=args.seed,
        users=max(1, round(args.users * scale)),
        pageviews_per_day=round(args.pageviews_per_day * scale),
        start_date=settings.start_date,
        days=args.days,
        move_share=args.move_share,
    )


def _run_one(
    settings: Settings, args: argparse.Namespace, scale: float, label: str
) -> dict[str, Any]:
    """One bench at SCALE times --users and --pageviews-per-day, in a fresh scratch folder
    (inside --workdir, or the system's temporary folder), removed afterwards unless --keep is
    given or the bench failed."""
    simulation = _simulation(settings, args, scale)
    events = first_loads(simulation, args.loads)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pageview-bench-", dir=args.workdir))
    keep = args.keep
    try:
        with LoadProgress(len(events), label) as progress:
            result = run_bench(
                simulation,
                events,
                workdir,
                algorithmic=args.algorithmic,
                on_phase=progress.phase,
                on_load=progress.done,
            )
    except BenchFailed as err:
        keep = True
        print(f"bench: {err}", file=sys.stderr)
        raise SystemExit(1) from err
    finally:
        if keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return summarise(result)


def run_bench_command(settings: Settings, args: argparse.Namespace) -> Path:
    """Benchmarks the loads ARGS describe, at each --scale; returns the last JSON's path.

    With more than one scale, the same loads run at each multiple of --users and
    --pageviews-per-day, and a scaling table over them is printed and written too.
    """
    scales = parse_scales(args.scale)
    out = args.out or RESULTS
    runs = []
    path = out
    for scale in scales:
        several = len(scales) > 1
        summary = _run_one(settings, args, scale, f"scale {scale:g}x" if several else "")
        print(render(summary))
        path = write_json(summary, out, f"-scale{scale:g}" if several else "")
        print(f"\nwrote {path}\n")
        runs.append((scale, summary))
    if len(scales) > 1:
        table = scaling(runs)
        print(render_scaling(table))
        path = write_json(table, out, "-scaling")
        print(f"\nwrote {path}")
    return path
