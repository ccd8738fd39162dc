"""The pageview fact and the two hourly aggregates the BI views read."""

from dagster import AssetDep, AssetsDefinition, TimeWindowPartitionMapping

from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT
from pageview_platform.assets.history import USER_POSTCODE_HISTORY
from pageview_platform.assets.partitions import Partitions
from pageview_platform.assets.sql_asset import sql_asset

PAGEVIEW_FACT = ["core", "pageview_fact"]


def build_pageview_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The fact and aggregate assets, partitioned by the hour in which the views happened."""
    hourly = {
        "partitions_def": partitions.hourly,
        "partition_expr": "pageview_hour",
        "group_name": "pageviews",
    }
    return [
        sql_asset(
            key=PAGEVIEW_FACT,
            description="One row per distinct pageview, counted once across overlapping loads,"
            " with the postcode the user had when viewing.",
            sql="transform/pageview_fact.sql",
            metrics="metrics/pageview_fact.sql",
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
        ),
        sql_asset(
            key=["agg", "pageviews_by_postcode_at_view_hourly"],
            description="Pageviews per hour per postcode the user had at the time of the view.",
            sql="transform/pageviews_by_postcode_at_view_hourly.sql",
            metrics="metrics/pageviews_by_postcode_at_view_hourly.sql",
            deps=[PAGEVIEW_FACT],
            **hourly,
        ),
        sql_asset(
            key=["agg", "pageviews_by_current_postcode_hourly"],
            description="Pageviews per hour per user's current (most recent) postcode.",
            sql="transform/pageviews_by_current_postcode_hourly.sql",
            metrics="metrics/pageviews_by_current_postcode_hourly.sql",
            deps=[PAGEVIEW_FACT, USER_POSTCODE_HISTORY],
            **hourly,
        ),
    ]
