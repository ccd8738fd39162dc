"""The `pageview-platform` command: ingest a landing load, run the demo end to end, or bench."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pageview_platform.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from pageview_platform.replay import ReplayReport


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pageview-platform",
        description="Capture landing extracts and publish pageviews per postcode.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    users = commands.add_parser(
        "ingest-users", help="capture landing.users_extract as the snapshot of a date"
    )
    users.add_argument("--date", required=True, help="snapshot date, YYYY-MM-DD (UTC)")
    pageviews = commands.add_parser(
        "ingest-pageviews", help="capture landing.pageviews_extract as the load of an hour"
    )
    pageviews.add_argument("--hour", required=True, help="load hour, YYYY-MM-DDTHH (UTC)")
    commands.add_parser(
        "replay-quarantine",
        help="re-admit the quarantined rows the current validation rules accept",
    )
    deploy = commands.add_parser(
        "deploy-schema",
        help="create the warehouse's schemas, tables and views (idempotent); first on Snowflake",
    )
    deploy.add_argument(
        "--grants",
        action="store_true",
        help="also create the read-only BI role (SELECT on the bi schema's views) and print"
        " every grant",
    )
    demo = commands.add_parser(
        "demo", help="simulate a few days of loads, ingest each, print both answers"
    )
    demo.add_argument("--days", type=int, default=2)
    demo.add_argument("--users", type=int, default=300)
    demo.add_argument("--pageviews-per-day", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=42)
    bench = commands.add_parser(
        "bench",
        help="time every simulated load through the Dagster runs against a plain-SQL baseline",
    )
    bench.add_argument("--users", type=_positive, default=2000)
    bench.add_argument("--pageviews-per-day", type=_positive, default=20000)
    bench.add_argument("--days", type=_positive, default=2)
    bench.add_argument("--seed", type=int, default=42)
    bench.add_argument(
        "--move-share", type=float, default=0.02, help="share of users who move each day"
    )
    bench.add_argument("--loads", type=_positive, help="stop after the first N loads (smoke runs)")
    bench.add_argument("--out", type=Path, help="folder for the JSON (default: bench_results/)")
    bench.add_argument("--workdir", type=Path, help="where the scratch folder goes (default: temp)")
    bench.add_argument("--keep", action="store_true", help="keep the scratch folder")
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return int(text)


def _quiet_dagster() -> None:
    """Dagster's per-event log lines drown the summary; they stay in the instance and the UI."""
    from dagster._utils.warnings import BetaWarning, PreviewWarning, SupersessionWarning

    for category in (BetaWarning, PreviewWarning, SupersessionWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    # An alert a run raises in this process is in ops.alerts and the run's log; the terminal
    # gets the one-line summary instead.
    alerts = logging.getLogger("pageview_platform.alerts")
    if not alerts.handlers:
        alerts.addHandler(logging.NullHandler())
    os.environ.setdefault("DAGSTER_CLI_LOG_LEVEL", "WARNING")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the exit code (0 ok, 1 a run failed, 2 bad arguments)."""
    args = _parser().parse_args(argv)
    _quiet_dagster()
    from pageview_platform.ingest import (
        Ingest,
        InvalidPartition,
        WarehouseNotReady,
        parse_day,
        parse_hour,
        require_warehouse,
    )
    from pageview_platform.runs import RunFailed, run_launcher
    from pageview_platform.warehouse.duckdb import TRANSIENT_ERRORS

    try:
        settings = get_settings()
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home.resolve())
        if args.command == "deploy-schema":
            from pageview_platform.warehouse.resources import deploy_schema

            for statement in deploy_schema(settings, grants=args.grants):
                print(statement)
            return 0
        if args.command in ("demo", "bench") and settings.snowflake is not None:
            # Both simulate the extract by writing a DuckDB file's landing tables.
            raise SettingsError(f"{args.command} runs on DuckDB only: unset PAGEVIEW_WAREHOUSE")
        if args.command == "demo":
            from pageview_platform.demo import fresh_demo_warehouse, run_demo

            settings = fresh_demo_warehouse(settings, args.days)
            with run_launcher(settings.dagster_home) as launcher:
                run_demo(settings, Ingest(settings, launcher), args)
            return 0
        if args.command == "bench":
            from pageview_platform.bench.command import run_bench_command

            run_bench_command(settings, args)
            return 0
        if args.command == "replay-quarantine":
            from pageview_platform.replay import QuarantineReplay

            require_warehouse(settings)
            with run_launcher(settings.dagster_home) as launcher:
                replayed = QuarantineReplay(settings, launcher).run()
            _print_replay(replayed)
            return 0
        if args.command == "ingest-users":
            key = parse_day(args.date, settings)
        else:
            key = parse_hour(args.hour, settings)
        require_warehouse(settings)
        with run_launcher(settings.dagster_home) as launcher:
            ingest = Ingest(settings, launcher)
            report = ingest.users(key) if args.command == "ingest-users" else ingest.pageviews(key)
    except (SettingsError, InvalidPartition) as err:
        print(f"pageview-platform: {err}", file=sys.stderr)
        return 2
    except (RunFailed, WarehouseNotReady) as err:
        print(f"pageview-platform: {err}", file=sys.stderr)
        return 1
    except TRANSIENT_ERRORS as err:
        # Another process held the DuckDB file past the lock wait: nothing ran, retry later.
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(
            f"pageview-platform: the warehouse is busy, nothing ran: {first_line}", file=sys.stderr
        )
        return 1
    print(
        f"{report.load}: captured {report.captured_rows} rows,"
        f" quarantined {report.quarantined_rows}"
    )
    for run in report.runs:
        print(f"  {run.job_name} [{run.partitions}] ok (run {run.run_id[:8]})")
    return 0


def _print_replay(report: ReplayReport) -> None:
    if not report.runs:
        print("replay-quarantine: nothing to replay, the current rules still reject every row")
        return
    print(
        f"replay-quarantine: re-admitted {report.users_rows} users rows"
        f" from {len(report.snapshots)} snapshots and {report.pageview_rows} pageview rows"
        f" from {len(report.loads)} loads"
    )
    for run in report.runs:
        print(f"  {run.job_name} [{run.partitions}] ok (run {run.run_id[:8]})")


if __name__ == "__main__":
    sys.exit(main())
