"""Assets whose body is one SQL file evaluated by the warehouse over the run's partitions."""

from collections.abc import Callable, Sequence, Set

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    PartitionsDefinition,
    asset,
)

from pageview_platform.assets.partitions import window
from pageview_platform.settings import get_settings
from pageview_platform.warehouse.duckdb import WAREHOUSE_RETRY_POLICY, fail_fast_unless_transient
from pageview_platform.warehouse.sql import SqlRelation

WAREHOUSE_IO = "warehouse_io_manager"


def kinds() -> set[str]:
    """Where the UI shows an asset lives: the configured warehouse, written in SQL."""
    return {get_settings().warehouse, "sql"}


# A range of partitions is one SQL statement over the whole window, so one run.
ONE_RUN_PER_RANGE = BackfillPolicy.single_run()
# Captures copy one load each, and their quarantine runs in the same job with them.
ONE_RUN_PER_PARTITION = BackfillPolicy.multi_run(max_partitions_per_run=1)


def sql_asset(
    *,
    key: Sequence[str],
    description: str,
    sql: str,
    partitions_def: PartitionsDefinition,
    partition_expr: str,
    group_name: str,
    deps: Sequence[AssetDep | Sequence[str]] = (),
    after: Sequence[str] = (),
    metrics: str | None = None,
    params: Callable[[AssetExecutionContext], dict[str, object]] = window,
    backfill_policy: BackfillPolicy | None = ONE_RUN_PER_RANGE,
    required_resource_keys: Set[str] = frozenset(),
) -> AssetsDefinition:
    """An asset written by the I/O manager from `sql` (a file under pageview_platform/sql).

    `after` names SQL files run in the same transaction once the rows are written; `metrics`
    names a query whose one row becomes numeric metadata (see SqlRelation); `params` may use
    the resources named in `required_resource_keys`.
    """

    @asset(
        key=list(key),
        description=description,
        deps=list(deps),
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        metadata={"partition_expr": partition_expr},
        io_manager_key=WAREHOUSE_IO,
        kinds=kinds(),
        group_name=group_name,
        required_resource_keys=set(required_resource_keys),
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def _sql_asset(context: AssetExecutionContext) -> SqlRelation:
        with fail_fast_unless_transient():
            return SqlRelation.from_file(sql, params(context), tuple(after), metrics)

    return _sql_asset
