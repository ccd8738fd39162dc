"""Each user's postcode versions (SCD type 2), derived from the captured snapshots."""

from collections.abc import Iterator

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Output,
    TimeWindowPartitionMapping,
    asset,
)

from pageview_platform.assets.capture import RAW_USERS_EXTRACT
from pageview_platform.assets.partitions import Partitions, window
from pageview_platform.assets.sql_asset import WAREHOUSE_IO, kinds
from pageview_platform.warehouse.duckdb import WAREHOUSE_RETRY_POLICY, fail_fast_unless_transient
from pageview_platform.warehouse.session import WarehouseResource, execute
from pageview_platform.warehouse.sql import SqlRelation, read_sql

USER_POSTCODE_HISTORY = ["core", "user_postcode_history"]


def build_history_assets(partitions: Partitions) -> list[AssetsDefinition]:
    """The postcode history asset."""

    @asset(
        key=USER_POSTCODE_HISTORY,
        deps=[
            RAW_USERS_EXTRACT,
            # Versions starting on day D depend on the versions before D.
            AssetDep(
                USER_POSTCODE_HISTORY,
                partition_mapping=TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
            ),
        ],
        partitions_def=partitions.daily,
        backfill_policy=BackfillPolicy.single_run(),
        metadata={"partition_expr": "valid_from"},
        io_manager_key=WAREHOUSE_IO,
        kinds=kinds(),
        group_name="history",
        retry_policy=WAREHOUSE_RETRY_POLICY,
        output_required=False,
    )
    def user_postcode_history(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[Output[SqlRelation]]:
        """Each user's postcode versions (valid_from, valid_to, is_current); a partition holds the
        versions starting that day. Its transaction also re-attributes the views of the users
        whose versions changed, in the fact and both aggregates."""
        params = window(context)
        with fail_fast_unless_transient():
            with warehouse.connection() as con:
                anything, later = execute(
                    con, read_sql("guards/users_history_window.sql"), params
                ).fetchone()
            if not anything:
                # No version can start where no snapshot was accepted: materializing the
                # window would show history that is not there. The run ends without one.
                context.log.info("nothing to rebuild: no users snapshot was accepted in the window")
                return
            if later is not None:
                raise ValueError(
                    f"the snapshot or versions of {later:%Y-%m-%d} build on this window's;"
                    f" materialize the range from {context.partition_keys[0]} through"
                    f" {later:%Y-%m-%d} in one run instead"
                )
        yield Output(
            SqlRelation.from_file(
                "transform/user_postcode_history.sql",
                params,
                after=(
                    "transform/user_postcode_history_close_versions.sql",
                    "transform/reattribute_pageviews.sql",
                    "transform/apply_aggregate_deltas.sql",
                ),
                metrics="metrics/user_postcode_history.sql",
            )
        )

    return [user_postcode_history]
