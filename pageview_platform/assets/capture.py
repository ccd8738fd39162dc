"""Durable copies of the landing tables, taken before the extract process truncates them."""

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetObservation,
    AssetsDefinition,
    Config,
    Output,
    PartitionsDefinition,
    asset,
)
from dagster._core.storage.tags import BACKFILL_ID_TAG
from pydantic import Field

from pageview_platform.alerts import ACTION_REFUSED, AlertSink
from pageview_platform.assets.landing_guard import (
    CaptureDecision,
    judge_pageviews_load,
    judge_users_snapshot,
)
from pageview_platform.assets.partitions import Partitions, window
from pageview_platform.assets.sql_asset import ONE_RUN_PER_PARTITION, WAREHOUSE_IO, kinds, sql_asset
from pageview_platform.warehouse.contract import (
    PAGEVIEWS_LANDING,
    USERS_LANDING,
    LandingContract,
)
from pageview_platform.warehouse.duckdb import WAREHOUSE_RETRY_POLICY, fail_fast_unless_transient
from pageview_platform.warehouse.session import Connection, WarehouseResource
from pageview_platform.warehouse.sql import SqlRelation

RAW_USERS_EXTRACT = ["raw", "users_extract"]
RAW_PAGEVIEWS_EXTRACT = ["raw", "pageviews_extract"]
USERS_QUARANTINE = ["core", "users_quarantine"]
PAGEVIEWS_QUARANTINE = ["core", "pageviews_quarantine"]

# The metadata key of the observation a refused capture leaves on its asset.
REFUSED = "refused"


class CaptureConfig(Config):
    """The operator's explicit choice, set in the UI's launchpad (the CLI's ingest sets it)."""

    confirm_landing_fingerprint: str = Field(
        default="",
        description="The landing table's fingerprint (rows:hash, printed by a refused capture)"
        " that the operator confirms is this partition's load: lets the capture replace a"
        " captured copy with other content, or take content captured under another partition."
        " Empty: only a partition's own load is captured.",
    )


def _one_partition_refusal(context: AssetExecutionContext) -> str | None:
    """Why a capture cannot run here at all: the landing table holds one load, not a range's."""
    if BACKFILL_ID_TAG in context.run.tags:
        return (
            "a capture does not run inside a backfill: the landing table holds only the current"
            " load; rebuild downstream assets from the captured copies instead"
        )
    keys = context.partition_keys
    if len(keys) != 1:
        return (
            f"a capture copies the current landing table into one partition, not a range of"
            f" {len(keys)} ({keys[0]}..{keys[-1]})"
        )
    return None


def _capture_asset(
    *,
    key: Sequence[str],
    description: str,
    sql: str,
    after: Sequence[str],
    metrics: str,
    partitions_def: PartitionsDefinition,
    partition_expr: str,
    contract: LandingContract,
    judge: Callable[[Connection, datetime, str], CaptureDecision],
) -> AssetsDefinition:
    """A capture that copies the landing table into one partition, or refuses and writes nothing.

    A refusal is not a failure: the run succeeds without a materialization (its checks and the
    steps downstream are skipped), says why in the run log and as an observation of the asset,
    and raises one `action_refused` alert.
    """
    asset_name = "/".join(key)

    @asset(
        key=list(key),
        description=description,
        partitions_def=partitions_def,
        backfill_policy=ONE_RUN_PER_PARTITION,
        metadata={"partition_expr": partition_expr},
        io_manager_key=WAREHOUSE_IO,
        kinds=kinds(),
        group_name="capture",
        output_required=False,
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def _capture(
        context: AssetExecutionContext,
        config: CaptureConfig,
        warehouse: WarehouseResource,
        alerts: AlertSink,
    ) -> Iterator[Output[SqlRelation] | AssetObservation]:
        refusal = _one_partition_refusal(context)
        decision = None
        if refusal is None:
            params = window(context)
            with fail_fast_unless_transient(), warehouse.connection() as con:
                extra = contract.verify(con)
                decision = judge(con, params["start"], config.confirm_landing_fingerprint)
            if extra:
                context.log.warning(
                    f"landing.{contract.table}: extra columns {', '.join(extra)} not captured"
                )
            refusal = decision.refusal
        if refusal is not None:
            partitions = ", ".join(context.partition_keys)
            context.log.warning(f"refused: {refusal}")
            alerts.raise_alert(
                ACTION_REFUSED,
                asset_name,
                f"capture of {asset_name} [{partitions}] refused, nothing written: {refusal}",
                context.run.run_id,
            )
            yield AssetObservation(
                asset_key=list(key),
                partition=context.partition_key if len(context.partition_keys) == 1 else None,
                metadata={REFUSED: refusal},
            )
            return
        assert decision is not None
        scripts = list(after)
        if decision.replaced_fingerprint is not None:
            context.log.warning(
                f"replacing the captured {decision.replaced_fingerprint} with the confirmed"
                f" {decision.landing_fingerprint}"
            )
            scripts.append("transform/log_capture_replacement.sql")
            params = {
                **params,
                "asset": asset_name,
                "replaced_fingerprint": decision.replaced_fingerprint,
                "new_fingerprint": decision.landing_fingerprint,
                "replaced_at": datetime.now(UTC).replace(tzinfo=None),
                "run_id": context.run.run_id,
            }
        yield Output(SqlRelation.from_file(sql, params, tuple(scripts), metrics))

    return _capture


def build_capture_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The capture and quarantine assets of both extracts."""
    return [
        _capture_asset(
            key=RAW_USERS_EXTRACT,
            description="Verbatim copy of each day's users snapshot, taken before the next"
            " reload truncates it; refused when the landing snapshot is another date's.",
            sql="transform/capture_users_extract.sql",
            after=("transform/log_users_snapshot_capture.sql",),
            metrics="metrics/users_extract.sql",
            partitions_def=partitions.daily,
            partition_expr="snapshot_date",
            contract=USERS_LANDING,
            judge=judge_users_snapshot,
        ),
        _capture_asset(
            key=RAW_PAGEVIEWS_EXTRACT,
            description="Verbatim copy of each hourly pageviews load, keyed by its hour; every"
            " rebuild starts here. Refused when the landing load is another hour's.",
            sql="transform/capture_pageviews_extract.sql",
            after=(
                "transform/log_pageview_load_hours.sql",
                "transform/log_pageview_load_capture.sql",
            ),
            metrics="metrics/pageviews_extract.sql",
            partitions_def=partitions.hourly,
            partition_expr="load_hour",
            contract=PAGEVIEWS_LANDING,
            judge=judge_pageviews_load,
        ),
        sql_asset(
            key=USERS_QUARANTINE,
            description="Users rows rejected from each snapshot, with the reason.",
            sql="transform/users_quarantine.sql",
            metrics="metrics/users_quarantine.sql",
            deps=[RAW_USERS_EXTRACT],
            partitions_def=partitions.daily,
            partition_expr="snapshot_date",
            group_name="capture",
            backfill_policy=ONE_RUN_PER_PARTITION,
        ),
        sql_asset(
            key=PAGEVIEWS_QUARANTINE,
            description="Pageview rows rejected from each load, with the reason.",
            sql="transform/pageviews_quarantine.sql",
            metrics="metrics/pageviews_quarantine.sql",
            deps=[RAW_PAGEVIEWS_EXTRACT],
            partitions_def=partitions.hourly,
            partition_expr="load_hour",
            group_name="capture",
            backfill_policy=ONE_RUN_PER_PARTITION,
        ),
    ]
