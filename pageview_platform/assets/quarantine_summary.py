"""The per-day quarantine summary an operator reads in the UI: a small frame, computed in SQL."""

from datetime import UTC, timedelta
from typing import TYPE_CHECKING

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DefaultScheduleStatus,
    MetadataValue,
    Output,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    schedule,
)

from pageview_platform.assets.capture import (
    PAGEVIEWS_QUARANTINE,
    RAW_PAGEVIEWS_EXTRACT,
    RAW_USERS_EXTRACT,
    USERS_QUARANTINE,
)
from pageview_platform.assets.partitions import Partitions, one_partition_window
from pageview_platform.assets.sql_asset import ONE_RUN_PER_PARTITION
from pageview_platform.partition_keys import day_key
from pageview_platform.settings import Settings
from pageview_platform.warehouse.errors import WAREHOUSE_RETRY_POLICY
from pageview_platform.warehouse.session import WarehouseResource, execute
from pageview_platform.warehouse.sql import read_sql

if TYPE_CHECKING:
    import pandas as pd

QUARANTINE_SUMMARY = ["ops", "quarantine_summary"]
# The resource key of the pandas I/O manager (warehouse/frames.py) that writes the summary.
FRAME_IO = "frame_io_manager"
SUMMARIZE_QUARANTINE = "summarize_quarantine"
SUMMARIZE_QUARANTINE_JOB = "summarize_quarantine_job"


def summary_frame(rows: list[tuple], columns: list[str]) -> "pd.DataFrame":
    """The query's rows as the frame the I/O manager writes, typed as the table is."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype(
        {
            "summary_date": "datetime64[ns]",
            "extract": "string",
            "reason": "string",
            "quarantined_rows": "int64",
            "captured_rows": "int64",
        }
    )


def summary_markdown(frame: "pd.DataFrame") -> str:
    """The summary as the table the UI shows (a plain text one without tabulate)."""
    shown = frame.drop(columns="summary_date").fillna({"reason": "(none)"})
    if shown.empty:
        return "Nothing captured or quarantined this day."
    try:
        return shown.to_markdown(index=False)
    except ImportError:
        return f"```\n{shown.to_string(index=False)}\n```"


def build_quarantine_summary_assets(
    partitions: Partitions, settings: Settings
) -> list[AssetsDefinition]:
    """The daily quarantine summary, written by the frame I/O manager."""

    @asset(
        key=QUARANTINE_SUMMARY,
        description="Per day, the rows quarantined from each extract by reason, next to the rows"
        " the day captured (the users snapshot; the day's 24 pageviews loads).",
        partitions_def=partitions.daily,
        deps=[RAW_USERS_EXTRACT, USERS_QUARANTINE, RAW_PAGEVIEWS_EXTRACT, PAGEVIEWS_QUARANTINE],
        io_manager_key=FRAME_IO,
        metadata={"partition_expr": "summary_date"},
        kinds={"pandas", settings.warehouse},
        group_name="ops",
        backfill_policy=ONE_RUN_PER_PARTITION,
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def quarantine_summary(context: AssetExecutionContext, warehouse: WarehouseResource) -> Output:
        params = one_partition_window(context, "a summary is of one day")
        with warehouse.fail_fast_unless_transient(), warehouse.connection() as con:
            cursor = execute(con, read_sql("transform/quarantine_summary.sql"), params)
            columns = [column[0] for column in cursor.description]
            frame = summary_frame(cursor.fetchall(), columns)
        return Output(
            frame,
            metadata={
                "quarantined_rows": int(frame["quarantined_rows"].sum()),
                "summary": MetadataValue.md(summary_markdown(frame)),
            },
        )

    return [quarantine_summary]


def build_quarantine_summary_schedule(
    partitions: Partitions, settings: Settings
) -> ScheduleDefinition:
    """`summarize_quarantine`: at 00:45 UTC, the summary of the day before (its last pageviews
    load has landed and been captured by then); stopped where sensors start stopped."""
    job = define_asset_job(
        SUMMARIZE_QUARANTINE_JOB,
        selection=[AssetKey(QUARANTINE_SUMMARY)],
        partitions_def=partitions.daily,
    )
    first_day = settings.start_date

    @schedule(
        name=SUMMARIZE_QUARANTINE,
        job=job,
        cron_schedule="45 0 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING
        if settings.environment.sensors_running
        else DefaultScheduleStatus.STOPPED,
    )
    def summarize_quarantine(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        """Summarizes yesterday's quarantine."""
        today = context.scheduled_execution_time.astimezone(UTC).date()
        yesterday = today - timedelta(days=1)
        if yesterday < first_day:
            return SkipReason(f"no day to summarize before the start date {first_day}")
        key = day_key(yesterday)
        # Keyed by the day: the schedule summarizes each day once; a rerun is the operator's.
        return RunRequest(run_key=f"{SUMMARIZE_QUARANTINE}:{key}", partition_key=key)

    return summarize_quarantine
