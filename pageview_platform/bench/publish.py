"""`make bench-publish`: what a publish of the BI database costs at full volume, synthesized
directly in a scratch warehouse (no loads run): a new file, a patch after a load's hour, and a
patch after late rows in earlier hours. Prints a table; see docs/performance.md.

    python -m pageview_platform.bench.publish --postcodes 1000000 --days 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from time import perf_counter

from pageview_platform.warehouse.duckdb import connect
from pageview_platform.warehouse.publish import Publication, publish
from pageview_platform.warehouse.session import run_script
from pageview_platform.warehouse.sql import read_sql

START = date(2024, 1, 1)


def synthesize(con, postcodes: int, days: int) -> None:
    """Every postcode with views in every hour of DAYS days, in both hourly aggregates and
    their rollups (the shape the brief's volume gives: about a million postcodes an hour)."""
    params = {"postcodes": postcodes, "hours": days * 24, "start": datetime(2024, 1, 1)}
    run_script(con, read_sql("bench/synthesize_aggregates.sql"), params)


def touch(con, hours: list[int], share: float) -> None:
    """One more view for SHARE of the postcodes in each of HOURS (hour offsets), in both hourly
    aggregates and their day and month, as a load with those hours would."""
    for hour in hours:
        params = {"hour": datetime(2024, 1, 1) + timedelta(hours=hour), "modulo": round(1 / share)}
        run_script(con, read_sql("bench/touch_hour.sql"), params)


def _row(label: str, publication: Publication) -> str:
    kind = publication.how
    return (
        f"| {label} | {kind} | {publication.rows_written:,} | {sum(publication.rows.values()):,}"
        f" | {publication.size_bytes / 2**20:,.0f} MiB | {publication.seconds:.2f} s |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postcodes", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="pageview-bench-publish-", dir=args.workdir))
    try:
        con = connect(workdir / "warehouse.duckdb", {}, START)
        started = perf_counter()
        synthesize(con, args.postcodes, args.days)
        print(
            f"synthesized {args.postcodes:,} postcodes x {args.days * 24} hours"
            f" in {perf_counter() - started:.1f} s"
        )
        target = workdir / "bi.duckdb"
        rows = [
            "| publish | how | rows written | rows published | file | seconds |",
            "|---|---|---:|---:|---:|---:|",
        ]
        rows.append(_row("first", publish(con, target)))
        rows.append(_row("nothing changed", publish(con, target)))
        last = args.days * 24 - 1
        touch(con, [last], 1.0)
        rows.append(_row("a load's hour", publish(con, target)))
        touch(con, [last, last - 1, last - 5, last - 30], 0.01)
        rows.append(_row("late rows in 4 hours", publish(con, target)))
        print("\n".join(rows))
        con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
