"""Durable copies of the landing tables, taken before the extract process truncates them."""

from dagster import AssetExecutionContext, AssetsDefinition, asset

from pageview_platform.assets.partitions import Partitions, single_partition_window, window
from pageview_platform.warehouse.sql import SqlRelation

WAREHOUSE_IO = "warehouse_io_manager"
KINDS = {"duckdb", "sql"}

RAW_USERS_EXTRACT = ["raw", "users_extract"]
RAW_PAGEVIEWS_EXTRACT = ["raw", "pageviews_extract"]


def build_capture_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The capture and quarantine assets of both extracts."""

    @asset(
        key=RAW_USERS_EXTRACT,
        partitions_def=partitions.daily,
        metadata={"partition_expr": "snapshot_date"},
        io_manager_key=WAREHOUSE_IO,
        kinds=KINDS,
        group_name="capture",
    )
    def users_extract(context: AssetExecutionContext) -> SqlRelation:
        """Verbatim copy of each day's users snapshot, taken before the next reload truncates it."""
        return SqlRelation.from_file(
            "transform/capture_users_extract.sql", single_partition_window(context)
        )

    @asset(
        key=RAW_PAGEVIEWS_EXTRACT,
        partitions_def=partitions.hourly,
        metadata={"partition_expr": "load_hour"},
        io_manager_key=WAREHOUSE_IO,
        kinds=KINDS,
        group_name="capture",
    )
    def pageviews_extract(context: AssetExecutionContext) -> SqlRelation:
        """Verbatim copy of each hourly pageviews load, keyed by its hour; rebuilds start here."""
        return SqlRelation.from_file(
            "transform/capture_pageviews_extract.sql", single_partition_window(context)
        )

    @asset(
        key=["core", "users_quarantine"],
        deps=[users_extract],
        partitions_def=partitions.daily,
        metadata={"partition_expr": "snapshot_date"},
        io_manager_key=WAREHOUSE_IO,
        kinds=KINDS,
        group_name="capture",
    )
    def users_quarantine(context: AssetExecutionContext) -> SqlRelation:
        """Users rows rejected from each snapshot, with the reason."""
        return SqlRelation.from_file("transform/users_quarantine.sql", window(context))

    @asset(
        key=["core", "pageviews_quarantine"],
        deps=[pageviews_extract],
        partitions_def=partitions.hourly,
        metadata={"partition_expr": "load_hour"},
        io_manager_key=WAREHOUSE_IO,
        kinds=KINDS,
        group_name="capture",
    )
    def pageviews_quarantine(context: AssetExecutionContext) -> SqlRelation:
        """Pageview rows rejected from each load, with the reason."""
        return SqlRelation.from_file("transform/pageviews_quarantine.sql", window(context))

    return [users_extract, pageviews_extract, users_quarantine, pageviews_quarantine]
