"""The main job end to end: simulate the source systems, ingest every load, print both answers."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from datetime import UTC, date, datetime, timedelta

from pageview_platform.ingest import Ingest
from pageview_platform.settings import Settings, SettingsError, pin_start_date, start_date_pin
from pageview_platform.simulator import SimulationConfig, Simulator
from pageview_platform.warehouse.duckdb import connect

TOP = 5

_TOP_POSTCODES = """
SELECT period_start, postcode, pageviews
FROM {view}
QUALIFY row_number() OVER (PARTITION BY period_start ORDER BY pageviews DESC, postcode) <= $top
ORDER BY period_start, pageviews DESC, postcode
"""

QUESTIONS = {
    "Pageviews per day by each user's CURRENT postcode": "bi.pageviews_by_current_postcode_daily",
    "Pageviews per day by the postcode AT THE TIME OF VIEW": (
        "bi.pageviews_by_postcode_at_view_daily"
    ),
}


def fresh_demo_warehouse(settings: Settings, days: int) -> Settings:
    """Recreates the demo's warehouse for the DAYS before today, its start date the first of them.

    The partitions then begin where the demo's data does, so the UI shows the demo's loads as a
    filled range. Only a warehouse the demo created is ever removed.
    """
    start = datetime.now(UTC).date() - timedelta(days=days)
    path = settings.duckdb_path
    pin = start_date_pin(path)
    if path.exists():
        recorded = json.loads(pin.read_text()) if pin.exists() else {}
        if not recorded.get("demo"):
            raise SettingsError(
                f"{path} holds a warehouse the demo did not create, and the demo starts from an"
                " empty one: point PAGEVIEW_DUCKDB_PATH at another file (or `make clean`)"
            )
        for leftover in (path, path.with_name(f"{path.name}.wal")):
            leftover.unlink(missing_ok=True)
    pin.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    pin_start_date(path, start, demo=True)
    # The code location the demo's runs load reads its settings from the environment.
    os.environ["PAGEVIEW_START_DATE"] = start.isoformat()
    return dataclasses.replace(settings, start_date=start)


def run_demo(settings: Settings, ingest: Ingest, args: argparse.Namespace) -> None:
    """Writes each simulated load to landing, ingests it like the CLI does, then reports."""
    simulator = Simulator(
        SimulationConfig(
            seed=args.seed,
            users=args.users,
            pageviews_per_day=args.pageviews_per_day,
            start_date=settings.start_date,
            days=args.days,
        )
    )
    print(f"warehouse {settings.duckdb_path}, Dagster instance {settings.dagster_home}")
    started = time.perf_counter()
    loads = 0
    for kind, key in simulator.events():
        with _connection(settings) as con:
            if kind == "users":
                simulator.write_users_snapshot(con, key)
            else:
                simulator.write_pageviews_load(con, key)
        report = ingest.users(key) if kind == "users" else ingest.pageviews(key)
        loads += 1
        print(
            f"{report.load}: captured {report.captured_rows:>6}, quarantined"
            f" {report.quarantined_rows:>3}, {len(report.runs)} runs"
        )
    print(f"\ningested {loads} loads in {time.perf_counter() - started:.1f} s\n")
    with _connection(settings) as con:
        for title, view in QUESTIONS.items():
            print(title)
            print(f"  {'day':<12}{'postcode':<12}{'pageviews':>10}")
            for period_start, postcode, pageviews in con.execute(
                _TOP_POSTCODES.format(view=view), {"top": TOP}
            ).fetchall():
                print(f"  {_day(period_start):<12}{postcode:<12}{pageviews:>10}")
            print()
    print(
        f"BI tools read the published copy, {settings.bi_duckdb_path}, read-only (README,"
        " 'Connecting BI tools'); `make dashboard` serves a page over it."
    )


def _connection(settings: Settings):
    return connect(settings.duckdb_path, settings.duckdb_connection_config, settings.start_date)


def _day(value: datetime | date) -> str:
    return value.strftime("%Y-%m-%d")
