"""The floor: the least plain DuckDB SQL that gives the platform's six answers for the same loads.

No Dagster, no validation views, no quarantine, no checks, no logs, no rollups: per pageviews
load it captures the landing table (the warehouse file attached read-only, copied, detached),
counts the load's valid rows per identity, looks up in its fact only the identities that may
already be there, attributes the new ones to the SCD2 postcode version in force when they were
viewed, writes them, and adds them to both hourly aggregates; the day and month answers are
summed from the hours when they are asked for (`sql/bench/floor/`). Users snapshots go through
the algorithmic baseline's scripts (`sql/bench/users_*.sql`: capture, change detection, SCD2
history, the current-postcode move), which do no more than they must, except the at-view
re-attribution, which updates the fact at the rows it found (`floor/users_at_view_...`).

Like production, it runs as its own process per load, and prints its stages as JSON:

    python -m pageview_platform.bench.floor pageviews --hour 2024-01-02T13 \\
        --database floor.duckdb --warehouse warehouse.duckdb --start-date 2024-01-01 \\
        [--config memory_limit=4GB] [--config threads=2] [--algorithmic]

`--algorithmic` runs the algorithmic baseline (`baseline.py`) instead, on its own file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime, time
from pathlib import Path

from pageview_platform.bench.baseline import Baseline, Load
from pageview_platform.bench.measure import Stage

FLOOR = "floor"
ALGORITHMIC = "algorithmic"


class Floor(Baseline):
    """The floor's file, and what it does with one load."""

    schemas = ["schema.sql", "floor/schema.sql"]
    at_view_reattribution = "floor/users_at_view_reattribution.sql"

    def pageviews(self, hour: datetime, warehouse: Path) -> list[Stage]:
        """Captures the landing load as HOUR's, then merges it in one transaction."""
        params = {"load_hour": hour, "start_date": self._start}
        with Load(self.database, self._config) as load:
            captured = load.capture(warehouse, "pageviews_capture.sql", params)
            load.con.execute("BEGIN TRANSACTION")
            try:
                views = load.statements(
                    "in-load dedup", "floor/pageviews_dedup.sql", params, rows=captured
                )
                load.statements("lookup", "floor/pageviews_lookup.sql", params)
                new = load.statements(
                    "point-in-time attribution", "floor/pageviews_attribution.sql", params, views
                )
                load.statements("fact insert", "floor/pageviews_fact.sql", params, rows=new)
                load.statements("hourly aggregates", "floor/pageviews_aggregates.sql", params, new)
                load.stage("commit", lambda: _commit(load), rows=new)
            except BaseException:
                load.con.execute("ROLLBACK")
                raise
        return load.stages


def _commit(load: Load) -> int:
    load.con.execute("COMMIT")
    return 0


SIDES: Mapping[str, type[Baseline]] = {FLOOR: Floor, ALGORITHMIC: Baseline}


def open_side(
    side: str, database: Path, config: Mapping[str, object], start_date: date
) -> Baseline:
    return SIDES[side](database, config, start_date)


def _config(items: Sequence[str]) -> dict[str, str]:
    pairs = [item.partition("=") for item in items]
    return {key: value for key, _, value in pairs}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pageview_platform.bench.floor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("kind", choices=("users", "pageviews"))
    parser.add_argument("--date", help="the snapshot's date, YYYY-MM-DD (users)")
    parser.add_argument("--hour", help="the load's hour, YYYY-MM-DDTHH (pageviews)")
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True, help="holds the landing table")
    parser.add_argument("--start-date", type=date.fromisoformat, required=True)
    parser.add_argument("--config", action="append", default=[], help="a DuckDB setting, K=V")
    parser.add_argument("--algorithmic", action="store_true", help="the algorithmic baseline")
    args = parser.parse_args(argv)
    side = open_side(
        ALGORITHMIC if args.algorithmic else FLOOR,
        args.database,
        _config(args.config),
        args.start_date,
    )
    if args.kind == "users":
        stages = side.users(date.fromisoformat(args.date), args.warehouse)
    else:
        hour = datetime.combine(date.fromisoformat(args.hour[:10]), time(int(args.hour[11:13])))
        stages = side.pageviews(hour, args.warehouse)
    json.dump({"stages": [asdict(stage) for stage in stages]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
