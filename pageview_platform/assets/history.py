"""Each user's postcode versions (SCD type 2), derived from the captured snapshots."""

from collections.abc import Iterator
from datetime import datetime, timedelta

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    TimeWindowPartitionMapping,
    multi_asset,
)

from pageview_platform.assets.capture import RAW_USERS_EXTRACT
from pageview_platform.assets.partitions import Partitions, window
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
    replace_partition,
    run_script,
    transaction,
)
from pageview_platform.warehouse.sql import read_sql

USER_POSTCODE_HISTORY = ["core", "user_postcode_history"]
CURRENT_POSTCODE_BY_USER = ["agg", "current_postcode_by_user"]


def build_history_assets(partitions: Partitions, settings: Settings) -> list[AssetsDefinition]:
    """The postcode history, and the record of where each user's views are counted, which only
    the history's re-attribution writes: one step, two tables."""
    # The pageviews module imports this one for its dependency on the history.
    from pageview_platform.assets.pageviews import (
        AT_VIEW_AGGREGATES,
        CURRENT_AGGREGATES,
        PAGEVIEW_FACT,
    )

    where = kinds(settings.warehouse)

    @multi_asset(
        name="user_postcode_history",
        specs=[
            AssetSpec(
                USER_POSTCODE_HISTORY,
                description="Each user's postcode versions (valid_from, valid_to, is_current);"
                " a partition holds the versions starting that day. Its transaction also"
                " re-attributes the views of the users whose versions changed, in the fact and"
                " the aggregates.",
                deps=[
                    RAW_USERS_EXTRACT,
                    # Versions starting on day D depend on the versions before D.
                    AssetDep(
                        USER_POSTCODE_HISTORY,
                        partition_mapping=TimeWindowPartitionMapping(
                            start_offset=-1, end_offset=-1
                        ),
                    ),
                ],
                kinds=where,
                group_name="history",
                skippable=True,
            ),
            AssetSpec(
                CURRENT_POSTCODE_BY_USER,
                description="The postcode each user's views are counted under in the"
                " current-postcode aggregates; rewritten for the users whose versions a history"
                " partition changed, in its transaction.",
                deps=[USER_POSTCODE_HISTORY],
                kinds=where,
                group_name="history",
                skippable=True,
            ),
        ],
        partitions_def=partitions.daily,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def user_postcode_history(
        context: AssetExecutionContext, warehouse: WarehouseResource, bi_database: BIDatabase
    ) -> Iterator[MaterializeResult | AssetMaterialization]:
        """Each user's postcode versions (valid_from, valid_to, is_current); a partition holds the
        versions starting that day. Its transaction also re-attributes the views of the users
        whose versions changed, in the fact and both aggregates; then the BI database is
        published."""
        params = window(context)
        with warehouse.fail_fast_unless_transient(), warehouse.connection() as con:
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
            with transaction(con):
                recent_from, window_seconds = advance_current_postcode_window(
                    con, params, settings.current_postcode_recent_days, bi_database
                )
                metadata = replace_partition(
                    con,
                    "core.user_postcode_history",
                    "valid_from",
                    {**params, "recent_from": recent_from},
                    "transform/user_postcode_history.sql",
                    after=(
                        "transform/user_postcode_history_close_versions.sql",
                        "transform/reattribute_pageviews.sql",
                        *bi_database.apply_deltas(),
                    ),
                    metrics="metrics/user_postcode_history.sql",
                )
                moved = metrics_row(con, read_sql("metrics/reattribution.sql"), params)
            metadata["current_postcode_hours_from"] = (
                "all hours" if recent_from == NO_WINDOW else f"{recent_from:%Y-%m-%d %H:%M}"
            )
            metadata.update(
                {
                    f"seconds_current_postcode_window.{label}": round(spent, 3)
                    for label, spent in window_seconds.items()
                }
            )
            published = publish_bi_database(con, bi_database, context.log)
        yield MaterializeResult(asset_key=USER_POSTCODE_HISTORY, metadata=metadata)
        # The re-attribution changed tables the merge owns, across loads: reported as
        # materializations of the whole table (no partition, so no load's status changes).
        partitions_note = {"history_partitions": ", ".join(context.partition_keys)}
        changed = [
            *((PAGEVIEW_FACT, *AT_VIEW_AGGREGATES) if moved["views_moved_at_view"] else ()),
            *(CURRENT_AGGREGATES if moved["views_moved_current"] else ()),
        ]
        for key in changed:
            yield AssetMaterialization(
                key,
                description="Views re-attributed by a postcode history rebuild.",
                metadata={
                    "views_moved_at_view": moved["views_moved_at_view"],
                    "views_moved_current": moved["views_moved_current"],
                    **partitions_note,
                },
            )
        yield MaterializeResult(
            asset_key=CURRENT_POSTCODE_BY_USER,
            metadata={"users_recounted": moved["users_recounted"]},
        )
        yield from published

    return [user_postcode_history]


# Before any snapshot: the current-postcode answers hold every hour (no view is this old).
NO_WINDOW = datetime(1900, 1, 1)


def advance_current_postcode_window(
    con: Connection, params: dict[str, object], recent_days: int, bi_database: BIDatabase
) -> tuple[datetime, dict[str, float]]:
    """Moves the start of the current-postcode hourly and daily answers to RECENT_DAYS before
    the latest snapshot the window builds on (never back) and drops what it leaves, in the
    caller's transaction; returns the start and each statement's seconds."""
    latest, recorded = execute(
        con, read_sql("guards/current_postcode_window.sql"), params
    ).fetchone()
    candidates = [d for d in (recorded, latest and latest - timedelta(days=recent_days)) if d]
    if not candidates:
        return NO_WINDOW, {}
    recent_from = max(candidates)
    moved = {"previous_from": recorded or NO_WINDOW, "recent_from": recent_from}
    seconds: dict[str, float] = {}
    for script in ("transform/current_postcode_window.sql", *bi_database.after_window()):
        seconds.update(run_script(con, read_sql(script), moved))
    return recent_from, seconds
