"""The pageview fact, the two hourly aggregates and their daily and monthly rollups the BI views
read, merged load by load."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    multi_asset,
)

from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT
from pageview_platform.assets.history import CURRENT_POSTCODE_BY_USER, USER_POSTCODE_HISTORY
from pageview_platform.assets.partitions import HOUR, Partitions, window
from pageview_platform.assets.publication import publish_bi_database
from pageview_platform.assets.sql_asset import kinds
from pageview_platform.settings import Settings
from pageview_platform.warehouse.errors import WAREHOUSE_RETRY_POLICY
from pageview_platform.warehouse.publish import BIDatabase
from pageview_platform.warehouse.session import (
    Connection,
    WarehouseResource,
    execute,
    metrics_row,
    run_script,
    transaction,
)
from pageview_platform.warehouse.sql import read_sql

PAGEVIEW_FACT = ["core", "pageview_fact"]
AT_VIEW_HOURLY = ["agg", "pageviews_by_postcode_at_view_hourly"]
CURRENT_HOURLY = ["agg", "pageviews_by_current_postcode_hourly"]
AT_VIEW_DAILY = ["agg", "pageviews_by_postcode_at_view_daily"]
AT_VIEW_MONTHLY = ["agg", "pageviews_by_postcode_at_view_monthly"]
CURRENT_DAILY = ["agg", "pageviews_by_current_postcode_daily"]
CURRENT_MONTHLY = ["agg", "pageviews_by_current_postcode_monthly"]
# The rollups of each hourly aggregate, moved by the same deltas in the same transactions
# (transform/apply_aggregate_deltas.sql): (key, its hourly aggregate, period).
ROLLUPS = (
    (AT_VIEW_DAILY, AT_VIEW_HOURLY, "day"),
    (AT_VIEW_MONTHLY, AT_VIEW_HOURLY, "month"),
    (CURRENT_DAILY, CURRENT_HOURLY, "day"),
    (CURRENT_MONTHLY, CURRENT_HOURLY, "month"),
)
# The aggregates by postcode at view, and by current postcode, each hourly one with its rollups.
AT_VIEW_AGGREGATES = (AT_VIEW_HOURLY, AT_VIEW_DAILY, AT_VIEW_MONTHLY)
CURRENT_AGGREGATES = (CURRENT_HOURLY, CURRENT_DAILY, CURRENT_MONTHLY)

_NOTE = " A partition is a pageviews load merged in, whichever hours its views fall in."


def build_pageview_assets(partitions: Partitions, settings: Settings) -> list[AssetsDefinition]:
    """The fact, both aggregates and their rollups, written together by merging each load."""
    where = kinds(settings.warehouse)

    @multi_asset(
        name="pageview_fact_and_aggregates",
        specs=[
            AssetSpec(
                PAGEVIEW_FACT,
                description="One row per distinct pageview, counted once across overlapping"
                " loads, with the postcode the user had when viewing." + _NOTE,
                deps=[RAW_PAGEVIEWS_EXTRACT, USER_POSTCODE_HISTORY],
                kinds=where,
                group_name="pageviews",
                skippable=True,
            ),
            AssetSpec(
                AT_VIEW_HOURLY,
                description="Pageviews per hour per postcode the user had at the time of the"
                " view." + _NOTE,
                deps=[PAGEVIEW_FACT],
                kinds=where,
                group_name="pageviews",
                skippable=True,
            ),
            AssetSpec(
                CURRENT_HOURLY,
                description="Pageviews per hour per user's current (most recent) postcode." + _NOTE,
                deps=[PAGEVIEW_FACT, CURRENT_POSTCODE_BY_USER],
                kinds=where,
                group_name="pageviews",
                skippable=True,
            ),
            *(
                AssetSpec(
                    key,
                    description=f"Pageviews per {period} per postcode, the rollup of"
                    f" {'.'.join(hourly)}, moved with it in the same transaction." + _NOTE,
                    deps=[hourly],
                    kinds=where,
                    group_name="pageviews",
                    skippable=True,
                )
                for key, hourly, period in ROLLUPS
            ),
        ],
        partitions_def=partitions.hourly,
        # A range of loads merges in one transaction: max() over loads does not care about order.
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def pageview_fact_and_aggregates(
        context: AssetExecutionContext, warehouse: WarehouseResource, bi_database: BIDatabase
    ) -> Iterator[MaterializeResult | AssetMaterialization]:
        """Merges the run's loads into the fact and moves both aggregates and their rollups by the
        difference, in one transaction, so the BI views never see one without the other; then
        publishes the BI database."""
        params = window(context)
        with warehouse.fail_fast_unless_transient(), warehouse.connection() as con:
            if not captured_loads(con, params):
                # Materializing an hour no load was captured for would show data that is not
                # there: the run ends without a materialization, its checks skipped.
                context.log.info("nothing to merge: no pageviews load was captured in the window")
                return
            with transaction(con):
                merged = merge_loads(con, params, bi_database)
            published = publish_bi_database(con, bi_database, context.log)
        # Where the merge's time went, statement by statement, for the bench and the UI.
        profile = {f"seconds_{label}": round(t, 3) for label, t in merged.seconds.items()}
        metrics = merged.metrics
        yield MaterializeResult(
            asset_key=PAGEVIEW_FACT,
            metadata={**metrics, "replaced_loads": merged.replaced_loads, **profile},
        )
        for key in (*AT_VIEW_AGGREGATES, *CURRENT_AGGREGATES):
            yield MaterializeResult(
                asset_key=key,
                metadata={name: metrics[name] for name in ("added_views", "hours_touched")},
            )
        yield from published

    return [pageview_fact_and_aggregates]


@dataclass
class MergedLoads:
    """What merging a window's loads changed, and where the time went."""

    replaced_loads: int
    metrics: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)


def merge_loads(con: Connection, params: dict[str, object], bi_database: BIDatabase) -> MergedLoads:
    """Merges the captured loads of the window into the fact and both aggregates, inside the
    caller's transaction (the multi-asset's, or a quarantine replay's), recording the hours it
    changed for the BI database's next publish."""
    (replaced_loads,) = execute(
        con, read_sql("transform/replaced_pageview_loads.sql"), params
    ).fetchone()
    merged = MergedLoads(replaced_loads)
    # Rebuilding reads every captured load: only worth it when a load was replaced.
    if replaced_loads:
        for script in ("transform/rebuild_pageview_hours.sql", *bi_database.after_rebuild()):
            merged.seconds.update(run_script(con, read_sql(script), params))
    # A range merges its loads one after the other: max() composes.
    for load in _hours(params["start"], params["end"]):
        load_params = {"start": load, "end": load + HOUR}
        for script in ("transform/merge_pageviews_load.sql", *bi_database.apply_deltas()):
            merged.seconds.update(run_script(con, read_sql(script), load_params))
        merged.metrics.update(
            metrics_row(con, read_sql("metrics/merge_pageviews_load.sql"), load_params)
        )
    return merged


def captured_loads(con: Connection, params: dict[str, object]) -> int:
    """How many loads of the window were ever captured."""
    (count,) = execute(con, read_sql("guards/pageview_loads_captured.sql"), params).fetchone()
    return count


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start
    while hour < end:
        yield hour
        hour += HOUR
