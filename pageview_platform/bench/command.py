"""`pageview-platform bench`: a scratch folder, the run, the printed tables and the JSON."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from pageview_platform.bench.report import render, summarise, write_json
from pageview_platform.bench.runner import first_loads, run_bench
from pageview_platform.settings import REPO_ROOT, Settings
from pageview_platform.simulator import SimulationConfig

RESULTS = REPO_ROOT / "bench_results"


def run_bench_command(settings: Settings, args: argparse.Namespace) -> Path:
    """Benchmarks the loads ARGS describe in a fresh scratch folder; returns the JSON's path.

    The folder (warehouse, baseline file, Dagster instance) is made inside --workdir, or the
    system's temporary folder, and removed afterwards unless --keep is given.
    """
    simulation = SimulationConfig(
        seed=args.seed,
        users=args.users,
        pageviews_per_day=args.pageviews_per_day,
        start_date=settings.start_date,
        days=args.days,
        move_share=args.move_share,
    )
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pageview-bench-", dir=args.workdir))
    try:
        result = run_bench(simulation, first_loads(simulation, args.loads), workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(result)
    print(render(summary))
    path = write_json(summary, args.out or RESULTS)
    print(f"\nwrote {path}")
    return path
