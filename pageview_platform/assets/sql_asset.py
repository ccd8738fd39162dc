"""Assets whose body replaces the run's partitions with one SQL file evaluated by the warehouse."""

from collections.abc import Callable, Mapping, Sequence

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pageview_platform.assets.partitions import window
from pageview_platform.warehouse.errors import WAREHOUSE_RETRY_POLICY
from pageview_platform.warehouse.session import WarehouseResource, replace_partition, transaction


def kinds(warehouse: str) -> set[str]:
    """Where the UI shows an asset lives: the configured WAREHOUSE, written in SQL."""
    return {warehouse, "sql"}


# Captures copy one load each, and their quarantine runs in the same job with them.
ONE_RUN_PER_PARTITION = BackfillPolicy.multi_run(max_partitions_per_run=1)


def write_partition(
    warehouse: WarehouseResource,
    key: Sequence[str],
    partition_column: str,
    params: Mapping[str, object],
    sql: str,
    after: Sequence[str] = (),
    metrics: str | None = None,
) -> MaterializeResult:
    """Replaces the window of the asset KEY's table with SQL's rows and runs the AFTER scripts,
    in one transaction; the materialization carries what it wrote (see replace_partition)."""
    table = ".".join(key)
    with (
        warehouse.fail_fast_unless_transient(),
        warehouse.connection() as con,
        transaction(con),
    ):
        metadata = replace_partition(con, table, partition_column, params, sql, after, metrics)
    return MaterializeResult(asset_key=list(key), metadata=metadata)


def sql_asset(
    *,
    key: Sequence[str],
    description: str,
    sql: str,
    partitions_def: PartitionsDefinition,
    partition_column: str,
    group_name: str,
    warehouse_kind: str,
    backfill_policy: BackfillPolicy,
    deps: Sequence[AssetDep | Sequence[str]] = (),
    after: Sequence[str] = (),
    metrics: str | None = None,
    params: Callable[[AssetExecutionContext], dict[str, object]] = window,
) -> AssetsDefinition:
    """An asset whose partitions hold the rows of `sql` (a file under pageview_platform/sql).

    `after` names SQL files run in the same transaction once the rows are written; `metrics`
    names a query whose one row becomes numeric metadata (see replace_partition).
    """

    @asset(
        key=list(key),
        description=description,
        deps=list(deps),
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        kinds=kinds(warehouse_kind),
        group_name=group_name,
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def _sql_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        with warehouse.fail_fast_unless_transient():
            values = params(context)
        return write_partition(warehouse, key, partition_column, values, sql, after, metrics)

    return _sql_asset
