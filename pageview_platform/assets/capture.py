"""Durable copies of the landing tables, taken before the extract process truncates them."""

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetObservation,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)
from pydantic import Field

from pageview_platform.alerts import ACTION_REFUSED, SNAPSHOT_HELD, AlertSink
from pageview_platform.assets.landing_guard import (
    CaptureDecision,
    judge_pageviews_load,
    judge_users_snapshot,
)
from pageview_platform.assets.partitions import Partitions, window
from pageview_platform.assets.snapshot_holds import (
    ACCEPT_HELD_TAG,
    Verdict,
    held_message,
    held_reasons,
    hold_landing_snapshot,
    judge_landing_snapshot,
)
from pageview_platform.assets.sql_asset import (
    ONE_RUN_PER_PARTITION,
    kinds,
    sql_asset,
    write_partition,
)
from pageview_platform.dagster_internals import BACKFILL_ID_TAG
from pageview_platform.settings import Settings
from pageview_platform.warehouse.contract import (
    PAGEVIEWS_LANDING,
    USERS_LANDING,
    LandingContract,
)
from pageview_platform.warehouse.errors import WAREHOUSE_RETRY_POLICY
from pageview_platform.warehouse.session import Connection, WarehouseResource

RAW_USERS_EXTRACT = ["raw", "users_extract"]
RAW_PAGEVIEWS_EXTRACT = ["raw", "pageviews_extract"]
USERS_QUARANTINE = ["core", "users_quarantine"]
PAGEVIEWS_QUARANTINE = ["core", "pageviews_quarantine"]

# The metadata keys of the observation a refused or held capture leaves on its asset.
REFUSED = "refused"
HELD = "held"


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
    partition_column: str,
    warehouse_kind: str,
    contract: LandingContract,
    judge: Callable[[Connection, datetime, str], CaptureDecision],
    hold: Callable[[Connection, datetime], list[Verdict]] | None = None,
    accept_held: tuple[str, Sequence[str]] | None = None,
) -> AssetsDefinition:
    """A capture that copies the landing table into one partition, or refuses and writes nothing.

    A refusal is not a failure: the run succeeds without a materialization (its checks and the
    steps downstream are skipped), says why in the run log and as an observation of the asset,
    and raises one `action_refused` alert.

    HOLD gives the blocking checks' verdicts on the landing table: if any fails, the load is
    held (kept aside, applied nowhere) and the step fails with the way forward. ACCEPT_HELD is
    the (SQL, after scripts) that take the held load instead, in runs tagged ACCEPT_HELD_TAG.
    """
    asset_name = "/".join(key)

    @asset(
        key=list(key),
        description=description,
        partitions_def=partitions_def,
        backfill_policy=ONE_RUN_PER_PARTITION,
        kinds=kinds(warehouse_kind),
        group_name="capture",
        output_required=False,
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def _capture(
        context: AssetExecutionContext,
        config: CaptureConfig,
        warehouse: WarehouseResource,
        alerts: AlertSink,
    ) -> Iterator[MaterializeResult | AssetObservation]:
        refusal = _one_partition_refusal(context)
        accepting = accept_held is not None and ACCEPT_HELD_TAG in context.run.tags
        decision = None
        failed: list[Verdict] = []
        extra: list[str] = []
        if refusal is None:
            params = window(context)
            with warehouse.fail_fast_unless_transient(), warehouse.connection() as con:
                if accepting:
                    refusal = _nothing_held(con, params["start"])
                else:
                    extra = contract.verify(con)
                    decision = judge(con, params["start"], config.confirm_landing_fingerprint)
                    refusal = decision.refusal
                    if refusal is None and hold is not None:
                        failed = [v for v in hold(con, params["start"]) if not v.passed]
                        if failed:
                            hold_landing_snapshot(con, params["start"], failed)
            if extra:
                context.log.warning(
                    f"landing.{contract.table}: extra columns {', '.join(extra)} not captured"
                )
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
        if failed:
            # Held, not refused: the load was kept (aside), and the ingest did not happen.
            message = held_message(params["start"], failed)
            alerts.raise_alert(
                SNAPSHOT_HELD,
                ",".join(f"{asset_name}:{v.check_name}" for v in failed),
                message,
                context.run.run_id,
            )
            yield AssetObservation(
                asset_key=list(key),
                partition=context.partition_key,
                metadata={
                    HELD: message,
                    **{f"{v.check_name}.{k}": val for v in failed for k, val in v.metadata.items()},
                },
            )
            raise Failure(description=message, allow_retries=False)
        if accepting:
            assert accept_held is not None
            accept_sql, accept_after = accept_held
            context.log.warning(f"accepting the held snapshot of {context.partition_key}")
            params = {
                **params,
                "accepted_at": datetime.now(UTC).replace(tzinfo=None),
                "run_id": context.run.run_id,
            }
            yield write_partition(
                warehouse, key, partition_column, params, accept_sql, accept_after, metrics
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
        yield write_partition(warehouse, key, partition_column, params, sql, scripts, metrics)

    return _capture


def _nothing_held(con: Connection, day: datetime) -> str | None:
    """Why an acceptance of DAY's held snapshot cannot run: none is held."""
    if held_reasons(con, day):
        return None
    return (
        f"no users snapshot of {day:%Y-%m-%d} is held: nothing to accept"
        " (ops.held_users_snapshots lists the held ones)"
    )


def build_capture_assets(partitions: Partitions, settings: Settings) -> list[AssetsDefinition]:
    """The capture and quarantine assets of both extracts."""
    max_shrink = settings.max_snapshot_shrink

    def users_holds(con: Connection, day: datetime) -> list[Verdict]:
        return judge_landing_snapshot(con, day, max_shrink)

    return [
        _capture_asset(
            key=RAW_USERS_EXTRACT,
            description="Verbatim copy of each day's accepted users snapshot, taken before the"
            " next reload truncates it; refused when the landing snapshot is another date's,"
            " held aside (raw.users_extract_held) when a blocking check stops it.",
            sql="transform/capture_users_extract.sql",
            after=("transform/log_users_snapshot_capture.sql",),
            metrics="metrics/users_extract.sql",
            partitions_def=partitions.daily,
            partition_column="snapshot_date",
            warehouse_kind=settings.warehouse,
            contract=USERS_LANDING,
            judge=judge_users_snapshot,
            hold=users_holds,
            accept_held=(
                "transform/accept_held_users_snapshot.sql",
                (
                    "transform/log_users_snapshot_acceptance.sql",
                    "transform/log_users_snapshot_capture.sql",
                ),
            ),
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
            partition_column="load_hour",
            warehouse_kind=settings.warehouse,
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
            partition_column="snapshot_date",
            warehouse_kind=settings.warehouse,
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
            partition_column="load_hour",
            warehouse_kind=settings.warehouse,
            group_name="capture",
            backfill_policy=ONE_RUN_PER_PARTITION,
        ),
    ]
