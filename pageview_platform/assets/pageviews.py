"""The pageview fact and the two hourly aggregates the BI views read, merged load by load."""

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    multi_asset,
)

from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT
from pageview_platform.assets.history import USER_POSTCODE_HISTORY
from pageview_platform.assets.partitions import HOUR, Partitions, window
from pageview_platform.assets.sql_asset import kinds
from pageview_platform.warehouse.session import (
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

_NOTE = " A partition is a pageviews load merged in, whichever hours its views fall in."


def build_pageview_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The fact and both aggregates, written together by merging each captured load."""

    @multi_asset(
        name="pageview_fact_and_aggregates",
        specs=[
            AssetSpec(
                PAGEVIEW_FACT,
                description="One row per distinct pageview, counted once across overlapping"
                " loads, with the postcode the user had when viewing." + _NOTE,
                deps=[RAW_PAGEVIEWS_EXTRACT, USER_POSTCODE_HISTORY],
                kinds=kinds(),
                group_name="pageviews",
            ),
            AssetSpec(
                AT_VIEW_HOURLY,
                description="Pageviews per hour per postcode the user had at the time of the"
                " view." + _NOTE,
                deps=[PAGEVIEW_FACT],
                kinds=kinds(),
                group_name="pageviews",
            ),
            AssetSpec(
                CURRENT_HOURLY,
                description="Pageviews per hour per user's current (most recent) postcode." + _NOTE,
                deps=[PAGEVIEW_FACT],
                kinds=kinds(),
                group_name="pageviews",
            ),
        ],
        partitions_def=partitions.hourly,
        # A range of loads merges in one transaction: max() over loads does not care about order.
        backfill_policy=BackfillPolicy.single_run(),
    )
    def pageview_fact_and_aggregates(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        """Merges the run's loads into the fact and moves both aggregates by the difference, in
        one transaction, so the BI views never see one without the other."""
        params = window(context)
        metrics: Counter[str] = Counter()
        with warehouse.connection() as con, transaction(con):
            (replaced_loads,) = execute(
                con, read_sql("transform/replaced_pageview_loads.sql"), params
            ).fetchone()
            # Rebuilding reads every captured load: only worth it when a load was replaced.
            seconds: Counter[str] = Counter()
            if replaced_loads:
                seconds.update(
                    run_script(con, read_sql("transform/rebuild_pageview_hours.sql"), params)
                )
            # A range merges its loads one after the other: max() composes.
            for load in _hours(params["start"], params["end"]):
                load_params = {"start": load, "end": load + HOUR}
                for script in ("merge_pageviews_load", "apply_aggregate_deltas"):
                    seconds.update(
                        run_script(con, read_sql(f"transform/{script}.sql"), load_params)
                    )
                metrics.update(
                    metrics_row(con, read_sql("metrics/merge_pageviews_load.sql"), load_params)
                )
        # Where the merge's time went, statement by statement, for the bench and the UI.
        profile = {f"seconds_{label}": round(t, 3) for label, t in seconds.items()}
        yield MaterializeResult(
            asset_key=PAGEVIEW_FACT,
            metadata={**metrics, "replaced_loads": replaced_loads, **profile},
        )
        for key in (AT_VIEW_HOURLY, CURRENT_HOURLY):
            yield MaterializeResult(
                asset_key=key,
                metadata={name: metrics[name] for name in ("added_views", "hours_touched")},
            )

    return [pageview_fact_and_aggregates]


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start
    while hour < end:
        yield hour
        hour += HOUR
