"""Durable copies of the landing tables, taken before the extract process truncates them."""

from collections.abc import Callable

from dagster import AssetExecutionContext, AssetsDefinition

from pageview_platform.assets.partitions import Partitions, capture_window
from pageview_platform.assets.sql_asset import ONE_RUN_PER_PARTITION, sql_asset
from pageview_platform.warehouse.contract import (
    PAGEVIEWS_LANDING,
    USERS_LANDING,
    LandingContract,
)

RAW_USERS_EXTRACT = ["raw", "users_extract"]
RAW_PAGEVIEWS_EXTRACT = ["raw", "pageviews_extract"]
USERS_QUARANTINE = ["core", "users_quarantine"]
PAGEVIEWS_QUARANTINE = ["core", "pageviews_quarantine"]


def _contracted_capture_window(
    contract: LandingContract,
) -> Callable[[AssetExecutionContext], dict[str, object]]:
    """The capture's window, once the landing table is found to keep the extract's contract."""

    def params(context: AssetExecutionContext) -> dict[str, object]:
        window = capture_window(context)
        with context.resources.warehouse.connection() as con:
            extra = contract.verify(con)
        if extra:
            context.log.warning(
                f"landing.{contract.table}: extra columns {', '.join(extra)} not captured"
            )
        return window

    return params


def build_capture_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The capture and quarantine assets of both extracts."""
    return [
        sql_asset(
            key=RAW_USERS_EXTRACT,
            description="Verbatim copy of each day's users snapshot, taken before the next"
            " reload truncates it.",
            sql="transform/capture_users_extract.sql",
            after=("transform/log_users_snapshot_capture.sql",),
            metrics="metrics/users_extract.sql",
            partitions_def=partitions.daily,
            partition_expr="snapshot_date",
            group_name="capture",
            params=_contracted_capture_window(USERS_LANDING),
            required_resource_keys={"warehouse"},
            backfill_policy=ONE_RUN_PER_PARTITION,
        ),
        sql_asset(
            key=RAW_PAGEVIEWS_EXTRACT,
            description="Verbatim copy of each hourly pageviews load, keyed by its hour; every"
            " rebuild starts here.",
            sql="transform/capture_pageviews_extract.sql",
            after=(
                "transform/log_pageview_load_hours.sql",
                "transform/log_pageview_load_capture.sql",
            ),
            metrics="metrics/pageviews_extract.sql",
            partitions_def=partitions.hourly,
            partition_expr="load_hour",
            group_name="capture",
            params=_contracted_capture_window(PAGEVIEWS_LANDING),
            required_resource_keys={"warehouse"},
            backfill_policy=ONE_RUN_PER_PARTITION,
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
