"""The jobs that re-admit quarantined rows after a validation rule was corrected.

`replay-quarantine` (replay_cli.py) finds the rows and starts them.
"""

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
    AT_VIEW_AGGREGATES,
    CURRENT_AGGREGATES,
    PAGEVIEW_FACT,
    merge_loads,
)
from pageview_platform.assets.partitions import HOUR
from pageview_platform.assets.publication import publish_bi_database
from pageview_platform.partition_keys import day_key, hour_key
from pageview_platform.warehouse.publish import BIDatabase
from pageview_platform.warehouse.session import (
    WarehouseResource,
    execute,
    run_script,
    transaction,
)
from pageview_platform.warehouse.sql import read_sql

REPLAY_USERS_QUARANTINE = "replay_users_quarantine"
REPLAY_PAGEVIEWS_QUARANTINE = "replay_pageviews_quarantine"
DAY = timedelta(days=1)


class SnapshotDates(Config):
    """The users snapshots whose quarantine a run re-derives, as YYYY-MM-DD."""

    dates: list[str]


class LoadHours(Config):
    """The pageviews loads a run re-derives and merges again, as YYYY-MM-DDTHH:MM."""

    loads: list[str]


def released_by_run(con: duckdb.DuckDBPyConnection, sql: str, run_id: str) -> int:
    """How many rows the run released, from its records in ops.*_quarantine_replays."""
    (count,) = execute(con, sql, {"run_id": run_id}).fetchone()
    return count


@op
def replay_users_snapshots(
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
        released = released_by_run(
            con, read_sql("replay/users_released_by_run.sql"), context.run_id
        )
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
    context: OpExecutionContext,
    config: LoadHours,
    warehouse: WarehouseResource,
    bi_database: BIDatabase,
) -> None:
    """Re-derives the loads' quarantine under the current rules, records the rows that leave it
    and merges the loads again, in one transaction."""
    replayed_at = datetime.now(UTC).replace(tzinfo=None)
    loads = [datetime.fromisoformat(text) for text in config.loads]
    with warehouse.connection() as con:
        with transaction(con):
            added = 0
            for load in loads:
                params = {"start": load, "end": load + HOUR}
                run_script(
                    con,
                    read_sql("replay/release_pageviews_quarantine.sql"),
                    {**params, "replayed_at": replayed_at, "run_id": context.run_id},
                )
                # Rows admitted now may reach hours no capture of the load logged (captures
                # before every row's hour was logged); a later replacement of the load must
                # rebuild those hours too.
                run_script(con, read_sql("transform/log_pageview_load_hours.sql"), params)
                added += merge_loads(con, params, bi_database).metrics["added_views"]
            released = released_by_run(
                con, read_sql("replay/pageviews_released_by_run.sql"), context.run_id
            )
        published = publish_bi_database(con, bi_database, context.log)
    for load in loads:
        # The merge moved the fact, both hourly aggregates and their rollups.
        for key in (PAGEVIEWS_QUARANTINE, PAGEVIEW_FACT, *AT_VIEW_AGGREGATES, *CURRENT_AGGREGATES):
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
    # The bi views this op's commit changed, published (on DuckDB) after it.
    for materialization in published:
        context.log_event(materialization)


@job(
    name=REPLAY_USERS_QUARANTINE,
    description="Release the users rows the corrected rules"
    " accept from the quarantine of the snapshots given (after their history was rebuilt).",
)
def replay_users_quarantine() -> None:
    replay_users_snapshots()


@job(
    name=REPLAY_PAGEVIEWS_QUARANTINE,
    description="Re-admit the pageview rows the corrected rules"
    " accept: each load given is re-quarantined and merged again in one transaction.",
)
def replay_pageviews_quarantine() -> None:
    replay_pageview_loads()


def build_replay_jobs() -> list[JobDefinition]:
    """The jobs `replay-quarantine` starts after history (for users) is rebuilt."""
    return [replay_users_quarantine, replay_pageviews_quarantine]
