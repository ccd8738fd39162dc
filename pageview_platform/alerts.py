"""Alerts: where failed runs, failed checks and missed loads are sent."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    Config,
    ConfigurableResource,
    DagsterEventType,
    DefaultSensorStatus,
    MetadataValue,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from pydantic import Field

from pageview_platform.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    SerializableErrorInfo,
)
from pageview_platform.warehouse.duckdb import connect
from pageview_platform.warehouse.errors import transient_errors
from pageview_platform.warehouse.session import WarehouseResource

# The kinds of alert the platform raises (ops.alerts.kind).
RUN_FAILURE = "run_failure"  # a run of this code location failed; subject: the job
CHECK_FAILURE = "check_failure"  # an asset check evaluated to failed; subject: asset:check
MISSED_LOAD = "missed_load"  # a landing load did not arrive in time; subject: the landing table
# A run refused an action that would have overwritten data (a capture of another partition's
# load); it changed nothing and is not a failure. Subject: the asset.
ACTION_REFUSED = "action_refused"
# A users snapshot a blocking check held aside (applied nowhere until accepted or replaced); the
# run fails too. Subject: asset:check, for each check that held it.
SNAPSHOT_HELD = "snapshot_held"
ALERT_DELIVERY_FAILED = "alert_delivery_failed"  # Slack did not take an alert; subject: its subject

RUN_FAILURE_SENSOR = "alert_on_run_failure"
CHECK_FAILURE_SENSOR = "alert_on_check_failure"

logger = logging.getLogger("pageview_platform.alerts")

_INSERT_ALERT = """
INSERT INTO ops.alerts (raised_at, kind, subject, message, run_id)
VALUES ($raised_at, $kind, $subject, $message, $run_id)
"""
_CHECK_EVENTS_PER_TICK = 100
_METADATA_VALUE_CHARS = 80


class SnowflakeConnection(Config):
    """The Snowflake connection alerts are recorded through: the `warehouse` resource's fields."""

    account: str
    user: str
    role: str
    warehouse: str
    database: str
    password: str | None = None
    private_key: str | None = None
    private_key_path: str | None = None
    additional_snowflake_connection_args: dict[str, Any] | None = None

    @classmethod
    def of(cls, warehouse: WarehouseResource) -> SnowflakeConnection:
        """The connection of the Snowflake WAREHOUSE resource; its secrets stay EnvVars."""
        return cls(**{name: getattr(warehouse, name) for name in cls.model_fields})


class AlertSink(ConfigurableResource):
    """Records every alert in the log and ops.alerts, and posts it to Slack when configured."""

    database: str = Field(description="Path to the DuckDB warehouse file.")
    connection_config: dict[str, Any] = Field(default={}, description="DuckDB settings.")
    start_date: str = Field(description="First partition date, YYYY-MM-DD.")
    slack_token: str | None = Field(default=None, description="Slack bot token; None: no Slack.")
    slack_channel: str | None = Field(default=None, description="Slack channel for alerts.")
    lock_wait_seconds: float = Field(
        default=3.0, description="How long to wait for a warehouse another process is writing."
    )
    snowflake: SnowflakeConnection | None = Field(
        default=None, description="Record in this Snowflake database instead of the DuckDB file."
    )

    def raise_alert(self, kind: str, subject: str, message: str, run_id: str | None = None) -> None:
        """Logs and records the alert, then posts it to Slack; never raises."""
        self._record(kind, subject, message, run_id)
        if self.slack_token is None or self.slack_channel is None:
            return
        text = f"[{kind}] {subject}: {message}" + (f" (run {run_id})" if run_id else "")
        # Imported here: a code location without Slack never loads its client.
        from dagster_slack import SlackResource

        try:
            SlackResource(token=self.slack_token).get_client().chat_postMessage(
                channel=self.slack_channel, text=text
            )
        # Whatever Slack or the network raises, the caller (a sensor, a run) must carry on.
        except Exception as err:
            self._record(
                ALERT_DELIVERY_FAILED,
                subject,
                f"Slack channel {self.slack_channel} did not take the {kind} alert:"
                f" {type(err).__name__}: {err}",
                run_id,
            )

    def _record(self, kind: str, subject: str, message: str, run_id: str | None) -> None:
        # The log line comes first: it survives a warehouse that cannot be written.
        logger.error(
            "alert kind=%s subject=%r message=%r run_id=%s", kind, subject, message, run_id
        )
        row = {
            # Naive UTC, like every TIMESTAMP in the warehouse.
            "raised_at": datetime.now(UTC).replace(tzinfo=None),
            "kind": kind,
            "subject": subject,
            "message": message,
            "run_id": run_id,
        }
        try:
            self._insert(row)
        # An alert must never crash its caller, and the line above already holds it.
        except Exception as err:
            logger.error(
                "alert kind=%s subject=%r not recorded in ops.alerts: %s: %s",
                kind,
                subject,
                type(err).__name__,
                " ".join(str(err).split()),
            )

    def _insert(self, row: Mapping[str, object]) -> None:
        if self.snowflake is not None:
            # Imported here: a DuckDB code location never loads the Snowflake connector.
            from pageview_platform.warehouse.snowflake import session

            with session(self.snowflake.model_dump(exclude_none=True)) as connection:
                connection.execute(_INSERT_ALERT, row)
            return
        deadline = time.monotonic() + self.lock_wait_seconds
        pause = 0.05
        while True:
            try:
                # This loop bounds the wait itself, shorter than a run's.
                connection = connect(
                    self.database,
                    self.connection_config,
                    date.fromisoformat(self.start_date),
                    lock_retries=0,
                )
                try:
                    connection.execute(_INSERT_ALERT, row)
                finally:
                    connection.close()
                return
            except transient_errors(snowflake=False):
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)


def partitions_of(tags: Mapping[str, str]) -> str:
    """The partition or partition range a run's tags name, as runs.py writes them."""
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        start = tags[ASSET_PARTITION_RANGE_START_TAG]
        return f"{start}...{tags.get(ASSET_PARTITION_RANGE_END_TAG, start)}"
    return "no partition"


def _root_cause_line(error: SerializableErrorInfo) -> str:
    while error.cause is not None:
        error = error.cause
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    return lines[0] if lines else error.cls_name or "unknown error"


def _first_error(context: RunFailureSensorContext) -> str:
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        if error is not None:
            return f"step {event.step_key}: {_root_cause_line(error)}"
    # A run can fail outside any step (a launch or a resource error).
    error = getattr(context.failure_event.event_specific_data, "error", None)
    if error is not None:
        return _root_cause_line(error)
    return (context.failure_event.message or "no error recorded").splitlines()[0]


@run_failure_sensor(
    name=RUN_FAILURE_SENSOR,
    description="Raises a run_failure alert for every failed run of this code location.",
    monitor_all_code_locations=False,
    default_status=DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: RunFailureSensorContext, alerts: AlertSink) -> None:
    """Alerts with the job, its partitions and the first error."""
    run = context.dagster_run
    alerts.raise_alert(
        RUN_FAILURE,
        run.job_name,
        f"{run.job_name} [{partitions_of(run.tags)}] failed: {_first_error(context)}",
        run.run_id,
    )


def _metadata_summary(metadata: Mapping[str, MetadataValue]) -> str:
    parts = []
    for name, value in metadata.items():
        text = " ".join(str(value.value).split())
        if len(text) > _METADATA_VALUE_CHARS:
            text = text[: _METADATA_VALUE_CHARS - 3] + "..."
        parts.append(f"{name}={text}")
    return ", ".join(parts)


@sensor(
    name=CHECK_FAILURE_SENSOR,
    description="Raises a check_failure alert once for every failed asset check evaluation.",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
)
def alert_on_check_failure(context: SensorEvaluationContext, alerts: AlertSink) -> SensorResult:
    """Alerts on each failed check evaluation stored since the cursor (an event log id)."""
    storage = context.instance.event_log_storage
    if context.cursor is None:
        # Like Dagster's run status sensors, start at the top of the log: turning the sensor
        # on must not replay every failure in the instance's history.
        latest = storage.get_maximum_record_id() or 0
        return SensorResult(skip_reason=SkipReason("started"), cursor=str(latest))
    cursor = int(context.cursor)
    # The same read as Dagster's event log consumer daemon: run-sharded SQLite mirrors check
    # evaluations into its index shard, whose ids grow across runs (get_event_records rejects
    # an integer cursor there).
    entries = storage.get_logs_for_all_runs_by_log_id(
        after_cursor=cursor,
        dagster_event_type=DagsterEventType.ASSET_CHECK_EVALUATION,
        limit=_CHECK_EVENTS_PER_TICK,
    )
    failed = 0
    for storage_id, entry in sorted(entries.items()):
        cursor = storage_id
        evaluation = entry.dagster_event.event_specific_data
        if not isinstance(evaluation, AssetCheckEvaluation) or evaluation.passed:
            continue
        run_id = entry.run_id or None
        partition = evaluation.partition
        if partition is None and run_id is not None:
            run = context.instance.get_run_by_id(run_id)
            partition = partitions_of(run.tags) if run else None
        asset = evaluation.asset_key.to_user_string()
        details = "; ".join(
            part
            for part in (evaluation.description, _metadata_summary(evaluation.metadata))
            if part
        )
        alerts.raise_alert(
            CHECK_FAILURE,
            f"{asset}:{evaluation.check_name}",
            f"check {evaluation.check_name} on {asset} [{partition or 'no partition'}] failed"
            f" ({evaluation.severity.value})" + (f": {details}" if details else ""),
            run_id,
        )
        failed += 1
    return SensorResult(
        skip_reason=SkipReason(f"{failed} failed checks alerted"), cursor=str(cursor)
    )


def build_alert_sensors() -> list[SensorDefinition]:
    """Sensors that turn failures into alerts."""
    return [alert_on_run_failure, alert_on_check_failure]
