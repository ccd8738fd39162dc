"""`make bench-publish`: what a publish of the BI database costs at full volume, synthesized
directly in a scratch warehouse (no loads run): a new file, patches after whole hours changed
(as a rebuilt load records them), and a patch after a load shaped like a real one (its own hour
in every postcode and a few late rows in 20 earlier hours), staged as the merge stages its
deltas and applied and recorded by the writer's own scripts; then two more such loads, one
published from the spare (the file the last publish replaced), one from a copy. Prints a table; see
docs/performance.md.

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
from pageview_platform.warehouse.publish import (
    RECORD_DELTA_CELLS,
    BIDatabase,
    Publication,
    publish,
)
from pageview_platform.warehouse.session import run_script, transaction
from pageview_platform.warehouse.sql import read_sql

START = date(2024, 1, 1)


def synthesize(con, postcodes: int, days: int) -> None:
    """Every postcode with views in every hour of DAYS days, in both hourly aggregates and
    their rollups (the shape the brief's volume gives: about a million postcodes an hour)."""
    params = {"postcodes": postcodes, "start": datetime(2024, 1, 1)}
    for hour in range(days * 24):
        run_script(con, read_sql("bench/synthesize_hour.sql"), {**params, "hour": hour})
    run_script(con, read_sql("bench/synthesize_rollups.sql"), {})


def touch(con, hours: list[int], share: float) -> None:
    """One more view for SHARE of the postcodes in each of HOURS (hour offsets), in both hourly
    aggregates and their day and month, each hour recorded whole: as a load's own hour is (its
    delta moves nearly every row of it), and as a rebuilt load's hours are."""
    for hour in hours:
        params = {"hour": datetime(2024, 1, 1) + timedelta(hours=hour), "modulo": round(1 / share)}
        run_script(con, read_sql("bench/touch_hour.sql"), params)


def load(
    con, bi_database: BIDatabase, hour: int, late_hours: int, late_postcodes: int, postcodes: int
) -> float:
    """A load of HOUR (an hour offset) with late rows in the LATE_HOURS hours before it, merged
    as the merge does: its deltas applied to the aggregates and recorded for the publish by the
    writer's scripts, in one transaction. Returns the seconds the recording took (the writer's
    share of the publish's cost)."""
    params = {
        "hour": datetime(2024, 1, 1) + timedelta(hours=hour),
        "late_hours": late_hours,
        "late_postcodes": late_postcodes,
        "postcodes": postcodes,
    }
    run_script(con, read_sql("bench/load_deltas.sql"), params)
    recording = 0.0
    with transaction(con):
        for script in bi_database.apply_deltas():
            started = perf_counter()
            run_script(con, read_sql(script), {})
            if script == RECORD_DELTA_CELLS:
                recording += perf_counter() - started
    return recording


def _row(label: str, publication: Publication) -> str:
    return (
        f"| {label} | {publication.described} | {publication.rows_written:,}"
        f" | {sum(publication.rows.values()):,}"
        f" | {publication.size_bytes / 2**20:,.0f} MiB | {publication.seconds:.2f} s"
        f" | {_phases(publication)} |"
    )


def _phases(publication: Publication) -> str:
    """Where the publish's seconds went, its longest phases first."""
    phases = sorted(publication.phases.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in phases)


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
            "| publish | how | rows written | rows published | file | seconds | phases (s) |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        rows.append(_row("first", publish(con, target)))
        rows.append(_row("nothing changed", publish(con, target)))
        last = args.days * 24 - 1
        touch(con, [last], 1.0)
        rows.append(_row("a load's hour (whole)", publish(con, target)))
        touch(con, [last, last - 1, last - 5, last - 30], 0.01)
        rows.append(_row("4 hours whole (1% of postcodes)", publish(con, target)))
        recording = load(con, BIDatabase(path=str(target)), last + 1, 20, 100, args.postcodes)
        rows.append(_row("late rows in 20 hours", publish(con, target)))
        # The next two loads alike, one patching the spare (the file the last publish replaced,
        # with the last publish's changes and its own), one a copy of the published file.
        for offset, spare in ((2, "on"), (3, "off")):
            load(con, BIDatabase(path=str(target)), last + offset, 20, 100, args.postcodes)
            rows.append(_row("the next load, the same shape", publish(con, target, spare)))
        print("\n".join(rows))
        print(f"recording the load's changes in its transaction: {recording:.2f} s")
        con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
