"""Sensors and a schedule that take every landing load through the graph with nobody typing.

Landing sensors notice a new load by its fingerprint and start its ingest run, once per load
(run key): capture, history or merge, all in that one run. Only a back-dated users snapshot
needs a second run (its history as a range), which a follow-up sensor starts; what runs for a
load is planned once, in planner.py, for these sensors and the CLI alike. Runs the CLI started
are left to the CLI. A run is requested only for something to do: a capture that materialized,
or one the fact has not merged since.
"""

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import duckdb
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_status_sensor,
    schedule,
    sensor,
)

from pageview_platform.alerts import MISSED_LOAD, AlertSink
from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT, RAW_USERS_EXTRACT
from pageview_platform.assets.landing_guard import fingerprint, landing_content, was_captured
from pageview_platform.assets.pageviews import PAGEVIEW_FACT
from pageview_platform.assets.partitions import HOUR
from pageview_platform.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from pageview_platform.jobs import (
    accept_held_users_snapshot,
    capture_users_snapshot,
    ingest_pageviews_load,
    ingest_users_snapshot,
    merge_pageviews_loads,
    update_postcode_history,
)
from pageview_platform.orphaned_runs import STARTED_BY_CLI_TAG, fail_orphaned_runs
from pageview_platform.partition_keys import day_key, from_hour_key, hour_key
from pageview_platform.planner import UsersSnapshot, history_rebuild, plan
from pageview_platform.settings import Settings
from pageview_platform.warehouse.session import Connection, WarehouseResource

CAPTURE_PAGEVIEWS_SENSOR = "capture_new_pageviews_load"
CAPTURE_USERS_SENSOR = "capture_new_users_snapshot"
AFTER_USERS_CAPTURE_SENSOR = "update_history_after_users_capture"
CATCH_UP_SCHEDULE = "merge_recent_loads"
ORPHANED_RUNS_SENSOR = "fail_orphaned_cli_runs"

CATCH_UP_HOURS = 3

_PAGEVIEWS_FINGERPRINT = """
SELECT
    count(*),
    CAST(coalesce(sum(hash(user_id, url, pageview_datetime)), 0) AS VARCHAR),
    (
        SELECT date_trunc('hour', pageview_datetime)
        FROM landing.pageviews_extract
        WHERE pageview_datetime IS NOT NULL
        GROUP BY 1
        -- On a tie the earlier hour is the load's own; the later one is next-hour overlap.
        ORDER BY count(*) DESC, 1
        LIMIT 1
    )
FROM landing.pageviews_extract
"""


def utcnow() -> datetime:
    """The time now, in UTC without zone (a seam for tests)."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def _landing(warehouse: WarehouseResource) -> Iterator[Connection | None]:
    """A read-only connection, or None while another process writes or before the first ingest."""
    try:
        with warehouse.read_only_connection() as con:
            yield con
    except (duckdb.IOException, duckdb.CatalogException):
        yield None


def _capture_if_new(
    context: SensorEvaluationContext,
    alerts: AlertSink,
    *,
    table: str,
    fingerprint: str,
    partition_key: str,
    skipped_since: Callable[[str], list[str]],
    captured: bool,
    job_name: str | None = None,
) -> SensorResult | SkipReason:
    """One capture per new landing fingerprint, and an alert naming the loads skipped since the
    last one (SKIPPED_SINCE gives the partition keys strictly between the last and this).

    The first tick (no cursor: a new deployment, or the sensor reset) captures the load it finds
    unless CAPTURED (the capture log holds its content: the CLI or an earlier sensor took it) or
    empty: the table is truncated at the next load, and nothing else would take this one."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    new_cursor = json.dumps({"fingerprint": fingerprint, "partition_key": partition_key})
    if not cursor and (captured or fingerprint.startswith("empty:")):
        return SensorResult(
            skip_reason=f"first tick: the load in {table} was captured before", cursor=new_cursor
        )
    if cursor and cursor["fingerprint"] == fingerprint:
        return SkipReason(f"no new load in {table}")
    skipped = skipped_since(cursor["partition_key"]) if cursor else []
    if skipped:
        alerts.raise_alert(
            MISSED_LOAD,
            table,
            f"loads {', '.join(skipped)} were replaced before they were captured; their rows"
            " are missing unless the source re-extracts them",
        )
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"{table}:{partition_key}:{fingerprint}",
                partition_key=partition_key,
                job_name=job_name,
            )
        ],
        cursor=new_cursor,
    )


@sensor(
    name=CAPTURE_PAGEVIEWS_SENSOR,
    job=ingest_pageviews_load,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
)
def capture_new_pageviews_load(
    context: SensorEvaluationContext, warehouse: WarehouseResource, alerts: AlertSink
) -> SensorResult | SkipReason:
    """Ingests each new hourly pageviews load before the extract truncates it."""
    with _landing(warehouse) as con:
        if con is None:
            return SkipReason("warehouse busy or not created yet")
        rows, checksum, busiest_hour = con.execute(_PAGEVIEWS_FINGERPRINT).fetchone()
        captured = was_captured(con, "pageviews_extract", rows, checksum)
    previous_hour = utcnow().replace(minute=0, second=0, microsecond=0) - HOUR
    # An empty load has no rows to date it: it is the previous hour's, by the extract's clock.
    load_hour = busiest_hour or previous_hour

    def skipped_since(last_key: str) -> list[str]:
        last = from_hour_key(last_key)
        return [hour_key(last + HOUR * n) for n in range(1, (load_hour - last) // HOUR)]

    return _capture_if_new(
        context,
        alerts,
        table="landing.pageviews_extract",
        fingerprint=fingerprint(rows, checksum) if rows else f"empty:{hour_key(previous_hour)}",
        partition_key=hour_key(load_hour),
        skipped_since=skipped_since,
        captured=captured,
    )


@sensor(
    name=CAPTURE_USERS_SENSOR,
    jobs=[ingest_users_snapshot, capture_users_snapshot],
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
)
def capture_new_users_snapshot(
    context: SensorEvaluationContext, warehouse: WarehouseResource, alerts: AlertSink
) -> SensorResult | SkipReason:
    """Ingests each new daily users snapshot, dated by the midnight it was taken nearest to; a
    back-dated one is only captured here, and its history follows as a range."""
    now = utcnow()
    snapshot_day = (now + timedelta(hours=12)).date()
    if snapshot_day > now.date():
        # A snapshot taken before the midnight that dates it: that date's partition opens at
        # midnight, and the cursor stays put so the first tick after it captures the snapshot.
        return SkipReason(
            f"a snapshot landing now is dated {snapshot_day} (the nearest midnight), whose"
            " partition opens at midnight UTC"
        )
    with _landing(warehouse) as con:
        if con is None:
            return SkipReason("warehouse busy or not created yet")
        rows, content_hash = landing_content(con, "users_extract")
        # An empty table is an extract still truncated (or failed), not a snapshot to capture.
        captured = rows == 0 or was_captured(con, "users_extract", rows, content_hash)
        # The plan's first run captures; a history range after it is the follow-up sensor's.
        capture = plan(con, UsersSnapshot(snapshot_day))[0]

    def skipped_since(last_key: str) -> list[str]:
        last = date.fromisoformat(last_key)
        return [day_key(last + timedelta(days=n)) for n in range(1, (snapshot_day - last).days)]

    return _capture_if_new(
        context,
        alerts,
        table="landing.users_extract",
        fingerprint=fingerprint(rows, content_hash),
        partition_key=capture.first,
        skipped_since=skipped_since,
        captured=captured,
        job_name=capture.job_name,
    )


def _first_partition(context: RunStatusSensorContext) -> str | None:
    """The run's partition, or the start of its range; None for runs the CLI follows up."""
    tags = context.dagster_run.tags
    if tags.get(STARTED_BY_CLI_TAG):
        return None
    return tags.get(PARTITION_NAME_TAG) or tags.get(ASSET_PARTITION_RANGE_START_TAG)


def _materialized(instance: DagsterInstance, run_id: str, asset_key: AssetKey) -> bool:
    """Whether the run materialized ASSET_KEY."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return any(record.asset_key == asset_key for record in records)


@run_status_sensor(
    name=AFTER_USERS_CAPTURE_SENSOR,
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[capture_users_snapshot, accept_held_users_snapshot],
    request_job=update_postcode_history,
    default_status=DefaultSensorStatus.RUNNING,
)
def update_history_after_users_capture(
    context: RunStatusSensorContext, warehouse: WarehouseResource
) -> RunRequest | SkipReason:
    """Rebuilds postcode history from a newly captured (or accepted) snapshot's date through the
    latest."""
    first = _first_partition(context)
    if first is None:
        return SkipReason("started by the CLI, which follows up itself")
    if not _materialized(context.instance, context.dagster_run.run_id, AssetKey(RAW_USERS_EXTRACT)):
        # A refused capture also ends SUCCESS: it captured nothing, so no history changes.
        return SkipReason(
            f"run {context.dagster_run.run_id} captured no users snapshot (refused or no-op)"
        )
    with _landing(warehouse) as con:
        if con is None:
            # Failing the tick makes the sensor see this run again on the next one.
            raise RuntimeError("warehouse busy; the next tick retries this run")
        history = history_rebuild(con, date.fromisoformat(first))
    return RunRequest(run_key=f"history:{context.dagster_run.run_id}", tags=history.tags)


_UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def _latest_materialization(
    instance: DagsterInstance, asset_key: AssetKey, partition_key: str
) -> int | None:
    """The storage id of the partition's latest materialization, or None if it has none."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]), limit=1
    ).records
    return records[0].storage_id if records else None


def _in_flight(instance: DagsterInstance, hours: list[str]) -> set[str]:
    """Which of HOURS an unfinished run targets, as its one partition or within its range."""
    busy: set[str] = set()
    for run in instance.get_runs(RunsFilter(statuses=_UNFINISHED)):
        tags = run.tags
        first = tags.get(PARTITION_NAME_TAG) or tags.get(ASSET_PARTITION_RANGE_START_TAG, "")
        last = tags.get(PARTITION_NAME_TAG) or tags.get(ASSET_PARTITION_RANGE_END_TAG, "")
        # Hour keys sort as their hours do; a day's key (a users run) is shorter than an hour's.
        if len(first) == len(last) == len(hours[0]):
            busy.update(hour for hour in hours if first <= hour <= last)
    return busy


def build_catch_up_schedule(start_date: date) -> ScheduleDefinition:
    """The catch-up schedule, over the hourly partitions that start at START_DATE."""
    first_partition = datetime.combine(start_date, time())

    @schedule(
        name=CATCH_UP_SCHEDULE,
        job=merge_pageviews_loads,
        cron_schedule="20 * * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
    )
    def merge_recent_loads(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        """Safety net: merges each recent load whose capture the fact has not merged yet."""
        return _loads_to_merge(context, first_partition)

    return merge_recent_loads


def _loads_to_merge(
    context: ScheduleEvaluationContext, first_partition: datetime
) -> list[RunRequest] | SkipReason:
    """A merge for each of the last CATCH_UP_HOURS loads (from FIRST_PARTITION on) whose capture
    the fact has not merged, and no run on its way will merge."""
    current = context.scheduled_execution_time.astimezone(UTC).replace(
        tzinfo=None, minute=0, second=0, microsecond=0
    )
    hours = [
        hour_key(hour)
        for hour in (current - HOUR * n for n in range(CATCH_UP_HOURS, 0, -1))
        if hour >= first_partition
    ]
    if not hours:
        return SkipReason("no loads since the start date yet")
    instance = context.instance
    # A run still on its way (an ingest about to merge, a merge queued) will do what is due.
    in_flight = _in_flight(instance, hours)
    requests: list[RunRequest] = []
    uncaptured: list[str] = []
    merged: list[str] = []
    for hour in hours:
        if hour in in_flight:
            continue
        captured = _latest_materialization(instance, AssetKey(RAW_PAGEVIEWS_EXTRACT), hour)
        if captured is None:
            uncaptured.append(hour)
            continue
        fact = _latest_materialization(instance, AssetKey(PAGEVIEW_FACT), hour)
        if fact is not None and fact > captured:
            merged.append(hour)
            continue
        # Keyed by the capture's event: each capture is merged by this schedule at most once.
        requests.append(RunRequest(run_key=f"catch-up:{hour}:{captured}", partition_key=hour))
    if requests:
        return requests
    return SkipReason(
        f"nothing to merge in {hours[0]}..{hours[-1]}: never captured {_listed(uncaptured)};"
        f" merged since their capture {_listed(merged)};"
        f" in a run still unfinished {_listed(sorted(in_flight))}"
    )


def _listed(keys: list[str]) -> str:
    return ", ".join(keys) or "none"


@sensor(
    name=ORPHANED_RUNS_SENSOR,
    description="Marks failed the runs of CLI processes that were killed, so they stop holding"
    " the run queue's slot.",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
)
def fail_orphaned_cli_runs(context: SensorEvaluationContext) -> SkipReason:
    """The daemon's sweep: otherwise the queue waits for the next CLI ingest to do it."""
    failed = fail_orphaned_runs(context.instance)
    return SkipReason(f"{len(failed)} runs of dead CLI processes marked failed")


def build_automation(settings: Settings) -> tuple[list[SensorDefinition], list[ScheduleDefinition]]:
    """The landing sensors, the back-dated-history follow-up, the sweep of runs whose CLI process
    died, and the catch-up schedule over the partitions from the start date; they start stopped
    where the environment's sensors do not run (PAGEVIEW_ENV=test is driven by explicit runs)."""
    sensors: list[SensorDefinition] = [
        capture_new_pageviews_load,
        capture_new_users_snapshot,
        update_history_after_users_capture,
        fail_orphaned_cli_runs,
    ]
    schedules: list[ScheduleDefinition] = [build_catch_up_schedule(settings.start_date)]
    if settings.environment.sensors_running:
        return sensors, schedules
    return [_stopped(s, DefaultSensorStatus.STOPPED) for s in sensors], [
        _stopped(s, DefaultScheduleStatus.STOPPED) for s in schedules
    ]


_Definition = TypeVar("_Definition", SensorDefinition, ScheduleDefinition)


def _stopped(
    definition: _Definition, status: DefaultSensorStatus | DefaultScheduleStatus
) -> _Definition:
    # Dagster copies a definition only with its own status (with_attributes); the run-status
    # sensor's subclass would not survive a rebuild, so the copy's status is set directly.
    stopped = copy.copy(definition)
    stopped._default_status = status
    return stopped
