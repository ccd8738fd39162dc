"""The pageview fact and the two hourly aggregates the BI views read."""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    TimeWindowPartitionMapping,
    asset,
)

from pageview_platform.assets.capture import KINDS, RAW_PAGEVIEWS_EXTRACT, WAREHOUSE_IO
from pageview_platform.assets.history import USER_POSTCODE_HISTORY
from pageview_platform.assets.partitions import Partitions, window
from pageview_platform.warehouse.sql import SqlRelation

PAGEVIEW_FACT = ["core", "pageview_fact"]


def build_pageview_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The fact and aggregate assets, partitioned by the hour in which the views happened."""
    hourly = {
        "partitions_def": partitions.hourly,
        "backfill_policy": BackfillPolicy.single_run(),
        "metadata": {"partition_expr": "pageview_hour"},
        "io_manager_key": WAREHOUSE_IO,
        "kinds": KINDS,
        "group_name": "pageviews",
    }

    @asset(
        key=PAGEVIEW_FACT,
        deps=[
            # Loads H-1 and H carry most of hour H; late rows in later loads are routed to
            # their hour by the ingest, which rebuilds every hour a load touched.
            AssetDep(
                RAW_PAGEVIEWS_EXTRACT,
                partition_mapping=TimeWindowPartitionMapping(start_offset=-1, end_offset=0),
            ),
            USER_POSTCODE_HISTORY,
        ],
        **hourly,
    )
    def pageview_fact(context: AssetExecutionContext) -> SqlRelation:
        """One row per distinct pageview, counted once across overlapping loads, with the postcode
        the user had when viewing."""
        return SqlRelation.from_file("transform/pageview_fact.sql", window(context))

    @asset(key=["agg", "pageviews_by_postcode_at_view_hourly"], deps=[pageview_fact], **hourly)
    def pageviews_by_postcode_at_view_hourly(context: AssetExecutionContext) -> SqlRelation:
        """Pageviews per hour per postcode the user had at the time of the view."""
        return SqlRelation.from_file(
            "transform/pageviews_by_postcode_at_view_hourly.sql", window(context)
        )

    @asset(
        key=["agg", "pageviews_by_current_postcode_hourly"],
        deps=[pageview_fact, USER_POSTCODE_HISTORY],
        **hourly,
    )
    def pageviews_by_current_postcode_hourly(context: AssetExecutionContext) -> SqlRelation:
        """Pageviews per hour per user's current (most recent) postcode."""
        return SqlRelation.from_file(
            "transform/pageviews_by_current_postcode_hourly.sql", window(context)
        )

    return [
        pageview_fact,
        pageviews_by_postcode_at_view_hourly,
        pageviews_by_current_postcode_hourly,
    ]
