"""The `pageview-platform` command: ingest a landing load, run the demo end to end, or bench."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

# Light modules only up to the argument checks: Dagster and the code location take seconds to
# import, and a bad argument is refused before them.
from pageview_platform.partition_keys import InvalidPartition, parse_day, parse_hour
from pageview_platform.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from pageview_platform.replay_cli import ReplayReport
    from pageview_platform.settings import Settings
    from pageview_platform.start_date import StartDateMove

# The commands that write the warehouse the environment names: the start date it records must be
# the one in force. `demo` and `bench` make their own warehouse; `set-start-date` moves it.
WRITE_THE_WAREHOUSE = (
    "ingest-users",
    "ingest-pageviews",
    "accept-snapshot",
    "replay-quarantine",
    "deploy-schema",
)


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
    accept = commands.add_parser(
        "accept-snapshot",
        help="accept the users snapshot held for a date (empty or shrunk) as it is, and rebuild"
        " history from it",
    )
    accept.add_argument("--date", required=True, help="snapshot date, YYYY-MM-DD (UTC)")
    commands.add_parser(
        "replay-quarantine",
        help="re-admit the quarantined rows the current validation rules accept",
    )
    move = commands.add_parser(
        "set-start-date",
        help="move the warehouse's start date (PAGEVIEW_START_DATE), refusing to leave captured"
        " data outside it; re-admits the views an earlier date accepts (docs/operations.md)",
    )
    move.add_argument("date", help="the new start date, YYYY-MM-DD (UTC)")
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
        help="time every simulated load through production's CLI, a process per load, against a"
        " plain-SQL floor giving the same answers",
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
    bench.add_argument(
        "--scale",
        help="comma-separated multiples of --users and --pageviews-per-day (e.g. 0.5,1,2): the"
        " same loads at each, then a scaling table",
    )
    bench.add_argument(
        "--algorithmic",
        action="store_true",
        help="also run the algorithmic baseline (the pipeline's algorithm in plain SQL)",
    )
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return int(text)


def _quiet_dagster() -> None:
    """Dagster's per-event log lines drown the summary; they stay in the instance and the UI."""
    from dagster import BetaWarning, PreviewWarning, SupersessionWarning

    for category in (BetaWarning, PreviewWarning, SupersessionWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    # An alert a run raises in this process is in ops.alerts and the run's log; the terminal
    # gets the one-line summary instead.
    alerts = logging.getLogger("pageview_platform.alerts")
    if not alerts.handlers:
        alerts.addHandler(logging.NullHandler())
    os.environ.setdefault("DAGSTER_CLI_LOG_LEVEL", "WARNING")


def _new_start_date(text: str, today: date | None = None) -> date:
    """`set-start-date`'s argument: YYYY-MM-DD, not after today (UTC)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as err:
        raise SettingsError(f"set-start-date: the date must be YYYY-MM-DD, got {text!r}") from err
    today = today or datetime.now(UTC).date()
    if day > today:
        raise SettingsError(f"set-start-date: {day} is after today ({today}); nothing changed")
    return day


def _checked_arguments(args: argparse.Namespace) -> tuple[Settings, date | datetime | None]:
    """The settings and the command's date or hour, checked before anything heavy is imported."""
    settings = get_settings(check_start_date=args.command in WRITE_THE_WAREHOUSE)
    if args.command in ("ingest-users", "accept-snapshot"):
        return settings, parse_day(args.date, settings)
    if args.command == "ingest-pageviews":
        return settings, parse_hour(args.hour, settings)
    if args.command == "set-start-date":
        return settings, _new_start_date(args.date)
    return settings, None


def entry() -> NoReturn:
    """The `pageview-platform` script: main(), then an exit that skips tearing the interpreter
    down. The atexit handlers run and both streams are flushed first; what is left is freeing
    the modules and objects of Dagster, SQLAlchemy and DuckDB one by one, about 0.4 s of a
    process that ingests one load (docs/performance.md), with every connection already closed
    and every transaction committed by then. An exception leaves the usual way."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away, or a closed stream, loses what it would have lost anyway.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the exit code (0 ok, 1 a run failed, 2 bad arguments)."""
    args = _parser().parse_args(argv)
    try:
        settings, key = _checked_arguments(args)
    except (SettingsError, InvalidPartition) as err:
        print(f"pageview-platform: {err}", file=sys.stderr)
        return 2
    _quiet_dagster()
    from pageview_platform.ingest import Ingest, WarehouseNotReady, require_warehouse
    from pageview_platform.runs import RunFailed, run_launcher
    from pageview_platform.start_date import NoWarehouse, check_recorded_start_date
    from pageview_platform.warehouse.errors import transient_errors

    try:
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home.resolve())
        if args.command in WRITE_THE_WAREHOUSE:
            check_recorded_start_date(settings)
        if args.command == "set-start-date":
            return _set_start_date(settings, key)
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
            from pageview_platform.replay_cli import QuarantineReplay

            require_warehouse(settings)
            with run_launcher(settings.dagster_home) as launcher:
                replayed = QuarantineReplay(settings, launcher).run()
            _print_replay(replayed)
            return 0
        require_warehouse(settings)
        with run_launcher(settings.dagster_home) as launcher:
            ingest = Ingest(settings, launcher)
            if args.command == "ingest-users":
                report = ingest.users(key)
            elif args.command == "accept-snapshot":
                report = ingest.accept_held(key)
            else:
                report = ingest.pageviews(key)
    except (SettingsError, InvalidPartition) as err:
        print(f"pageview-platform: {err}", file=sys.stderr)
        return 2
    except (RunFailed, WarehouseNotReady, NoWarehouse) as err:
        print(f"pageview-platform: {err}", file=sys.stderr)
        return 1
    except transient_errors(snowflake=False) as err:
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
    if report.checkpoint_seconds is not None:
        print(f"  warehouse checkpoint {report.checkpoint_seconds:.2f} s")
    return 0


def _set_start_date(settings: Settings, new: date) -> int:
    """Moves the warehouse's start date; then re-admits the views the earlier date accepts."""
    import dataclasses

    from pageview_platform.replay_cli import QuarantineReplay
    from pageview_platform.runs import RunFailed, run_launcher
    from pageview_platform.start_date import move_start_date

    moved = move_start_date(settings, new)
    was = "already started" if moved.old == new else f"was {moved.old}"
    print(f"set-start-date: the warehouse {moved.warehouse} starts at {new} ({was})")
    if moved.readmittable_rows:
        # The code location the replay's runs load reads the new date too, from the pin or the
        # environment (move_start_date refuses a PAGEVIEW_START_DATE other than NEW).
        settings = dataclasses.replace(settings, start_date=new)
        try:
            with run_launcher(settings.dagster_home) as launcher:
                _print_replay(QuarantineReplay(settings, launcher).run())
        except RunFailed as err:
            raise RunFailed(
                f"the start date moved to {new}, but re-admitting the views it accepts failed:"
                f" {err}; run `pageview-platform replay-quarantine`"
            ) from err
    _print_restart(moved)
    return 0


def _print_restart(moved: StartDateMove) -> None:
    where = (
        f"; set PAGEVIEW_START_DATE={moved.new} wherever the platform runs"
        if moved.on_snowflake
        else ""
    )
    print(
        "  restart `dagster dev` and the daemon (or reload the code location) so their"
        f" partitions start there too{where}"
    )


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
