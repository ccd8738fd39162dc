"""Re-admits quarantined rows after a validation rule was corrected: `replay-quarantine`."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
from dagster import (
    AssetMaterialization,
    Config,
    JobDefinition,
    OpExecutionContext,
    job,
    op,
)

from pageview_platform.assets.capture import PAGEVIEWS_QUARANTINE, USERS_QUARANTINE
from pageview_platform.assets.pageviews import (
    AT_VIEW_HOURLY,
    CURRENT_HOURLY,
    PAGEVIEW_FACT,
    merge_loads,
)
from pageview_platform.assets.partitions import HOUR
from pageview_platform.ingest import day_key, history_end_after_capture, hour_key
from pageview_platform.jobs import UPDATE_POSTCODE_HISTORY
from pageview_platform.runs import RunLauncher, RunOutcome
from pageview_platform.settings import Settings
from pageview_platform.warehouse.resources import open_connection
from pageview_platform.warehouse.session import (
    WarehouseResource,
    execute,
    run_script,
    transaction,
)
from pageview_platform.warehouse.sql import read_sql

RELEASE_USERS_QUARANTINE = "release_users_quarantine"
REPLAY_PAGEVIEWS_QUARANTINE = "replay_pageviews_quarantine"
DAY = timedelta(days=1)


class SnapshotDates(Config):
    """The users snapshots whose quarantine a run re-derives, as YYYY-MM-DD."""

    dates: list[str]


class LoadHours(Config):
    """The pageviews loads a run re-derives and merges again, as YYYY-MM-DDTHH:MM."""

    loads: list[str]


def _released(con: duckdb.DuckDBPyConnection, sql: str, run_id: str) -> int:
    """How many rows the run released, from its records in ops.*_quarantine_replays."""
    (count,) = execute(con, sql, {"run_id": run_id}).fetchone()
    return count


@op
def release_users_snapshots(
    context: OpExecutionContext, config: SnapshotDates, warehouse: WarehouseResource
) -> None:
    """Re-derives the snapshots' quarantine under the current rules and records the rows that
    leave it, in one transaction (the run before rebuilt history, which admitted them)."""
    replayed_at = datetime.now(UTC).replace(tzinfo=None)
    days = [date.fromisoformat(text) for text in config.dates]
    with warehouse.connection() as con, transaction(con):
        for day in days:
            start = datetime.combine(day, datetime.min.time())
            run_script(
                con,
                read_sql("replay/release_users_quarantine.sql"),
                {
                    "start": start,
                    "end": start + DAY,
                    "replayed_at": replayed_at,
                    "run_id": context.run_id,
                },
            )
        released = _released(con, read_sql("replay/users_released_by_run.sql"), context.run_id)
    for day in days:
        context.log_event(
            AssetMaterialization(
                USERS_QUARANTINE,
                partition=day_key(day),
                metadata={
                    "replayed_rows_in_run": released,
                },
            )
        )


@op
def replay_pageview_loads(
    context: OpExecutionContext, config: LoadHours, warehouse: WarehouseResource
) -> None:
    """Re-derives the loads' quarantine under the current rules, records the rows that leave it
    and merges the loads again, in one transaction."""
    replayed_at = datetime.now(UTC).replace(tzinfo=None)
    loads = [datetime.fromisoformat(text) for text in config.loads]
    with warehouse.connection() as con, transaction(con):
        added = 0
        for load in loads:
            params = {"start": load, "end": load + HOUR}
            run_script(
                con,
                read_sql("replay/release_pageviews_quarantine.sql"),
                {**params, "replayed_at": replayed_at, "run_id": context.run_id},
            )
            # Rows admitted now may reach hours no capture of the load touched before; a later
            # replacement of the load must rebuild those hours too.
            run_script(con, read_sql("transform/log_pageview_load_hours.sql"), params)
            added += merge_loads(con, params).metrics["added_views"]
        released = _released(con, read_sql("replay/pageviews_released_by_run.sql"), context.run_id)
    for load in loads:
        for key in (PAGEVIEWS_QUARANTINE, PAGEVIEW_FACT, AT_VIEW_HOURLY, CURRENT_HOURLY):
            context.log_event(
                AssetMaterialization(
                    key,
                    partition=hour_key(load),
                    metadata={
                        "replayed_rows_in_run": released,
                        "added_views_in_run": added,
                    },
                )
            )


@job(
    name=RELEASE_USERS_QUARANTINE,
    description="Release the users rows the corrected rules"
    " accept from the quarantine of the snapshots given (after their history was rebuilt).",
)
def release_users_quarantine() -> None:
    release_users_snapshots()


@job(
    name=REPLAY_PAGEVIEWS_QUARANTINE,
    description="Re-admit the pageview rows the corrected rules"
    " accept: each load given is re-quarantined and merged again in one transaction.",
)
def replay_pageviews_quarantine() -> None:
    replay_pageview_loads()


def build_replay_jobs() -> list[JobDefinition]:
    """The jobs `replay-quarantine` starts after history (for users) is rebuilt."""
    return [release_users_quarantine, replay_pageviews_quarantine]


@dataclass
class ReplayReport:
    """What a replay did, for the operator."""

    users_rows: int = 0
    pageview_rows: int = 0
    snapshots: list[date] = field(default_factory=list)
    loads: list[datetime] = field(default_factory=list)
    runs: list[RunOutcome] = field(default_factory=list)


class QuarantineReplay:
    """Finds the quarantined rows the current rules accept and re-admits them, through runs."""

    def __init__(self, settings: Settings, launcher: RunLauncher) -> None:
        self._settings = settings
        self._launcher = launcher

    def run(self) -> ReplayReport:
        """Users first (history from the earliest such snapshot through the latest, then the
        release), then pageviews; every run is idempotent, so a failed replay is run again."""
        settings = self._settings
        report = ReplayReport()
        # Held across the runs, as an ingest does, so their steps share the open database.
        with open_connection(settings) as con:
            report.snapshots = [
                row[0].date()
                for row in con.execute(read_sql("replay/releasable_users_snapshots.sql")).fetchall()
            ]
            report.loads = [
                row[0]
                for row in con.execute(read_sql("replay/releasable_pageview_loads.sql")).fetchall()
            ]
            if report.snapshots:
                first = report.snapshots[0]
                last = history_end_after_capture(con, first)
                launch = self._launcher.run
                report.runs.append(launch(UPDATE_POSTCODE_HISTORY, day_key(first), day_key(last)))
                report.runs.append(
                    launch(
                        RELEASE_USERS_QUARANTINE,
                        ops_config={
                            release_users_snapshots.name: {
                                "config": {"dates": [d.isoformat() for d in report.snapshots]}
                            }
                        },
                    )
                )
                report.users_rows = _released(
                    con, read_sql("replay/users_released_by_run.sql"), report.runs[-1].run_id
                )
            if report.loads:
                report.runs.append(
                    self._launcher.run(
                        REPLAY_PAGEVIEWS_QUARANTINE,
                        ops_config={
                            replay_pageview_loads.name: {
                                "config": {"loads": [h.isoformat() for h in report.loads]}
                            }
                        },
                    )
                )
                report.pageview_rows = _released(
                    con, read_sql("replay/pageviews_released_by_run.sql"), report.runs[-1].run_id
                )
        return report
