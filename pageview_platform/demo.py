"""The main job end to end: simulate the source systems, ingest every load, print both answers."""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime

from pageview_platform.ingest import Ingest
from pageview_platform.settings import Settings
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


def _connection(settings: Settings):
    return connect(settings.duckdb_path, settings.duckdb_connection_config, settings.start_date)


def _day(value: datetime | date) -> str:
    return value.strftime("%Y-%m-%d")
