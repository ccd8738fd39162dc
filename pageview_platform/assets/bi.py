"""What BI tools read: the six `bi` views, and on DuckDB the published BI database holding them."""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)

from pageview_platform.assets.history import CURRENT_POSTCODE_BY_USER, USER_POSTCODE_HISTORY
from pageview_platform.settings import Settings
from pageview_platform.warehouse.errors import WAREHOUSE_RETRY_POLICY
from pageview_platform.warehouse.publish import BI_VIEWS, BIDatabase, Publication
from pageview_platform.warehouse.session import WarehouseResource

BI_DATABASE = "bi_database"
# Each view reads the aggregate of the same name (sql/views/20_bi.sql).
BI_ASSETS = {view: (["bi", view], ["agg", view]) for view in BI_VIEWS}
_PERIODS = {"hourly": "hour", "daily": "day", "monthly": "month"}


def _answers(view: str) -> str:
    """What VIEW answers, in one sentence."""
    period = _PERIODS[view.rsplit("_", 1)[1]]
    if "postcode_at_view" in view:
        return (
            f"How many pageviews each postcode had per {period}, by the postcode the user had at"
            " the time of the view."
        )
    return (
        f"How many pageviews the users now at each postcode made per {period}, by their current"
        " postcode."
    )


def build_bi_assets(settings: Settings) -> list[AssetsDefinition]:
    """The `bi` views as the specs of the step that publishes them, last in every run that
    changes what they answer."""
    served = (
        " Published on DuckDB as a table of the same name in the BI database"
        f" ({settings.bi_duckdb_path.name}) that BI tools hold open read-only."
        if settings.warehouse == "duckdb"
        else " A Snowflake view the BI role reads."
    )

    @multi_asset(
        name=BI_DATABASE,
        specs=[
            AssetSpec(
                key,
                description=f"{_answers(view)} Columns period_start (UTC), postcode,"
                f" pageviews.{served}",
                # The history's re-attribution moves the aggregates in its own step: the
                # dependency on it also orders the publish after it in the users jobs.
                deps=[aggregate, USER_POSTCODE_HISTORY, CURRENT_POSTCODE_BY_USER],
                kinds={settings.warehouse, "sql"},
                group_name="bi",
            )
            for view, (key, aggregate) in BI_ASSETS.items()
        ],
        retry_policy=WAREHOUSE_RETRY_POLICY,
    )
    def bi_database(
        context: AssetExecutionContext, warehouse: WarehouseResource, bi_database: BIDatabase
    ) -> Iterator[MaterializeResult]:
        """Publishes the BI database from the warehouse as the run left it (on DuckDB); on
        Snowflake the views already answer from the aggregates."""
        with warehouse.fail_fast_unless_transient(), warehouse.connection() as con:
            publication = bi_database.publish(con)
        if publication is not None:
            context.log.info(
                f"published {publication.path} ({publication.size_bytes} bytes)"
                f" in {publication.seconds:.2f} s"
            )
        for name, (key, _) in BI_ASSETS.items():
            yield MaterializeResult(asset_key=key, metadata=publication_metadata(publication, name))

    return [bi_database]


def publication_metadata(publication: Publication | None, view: str) -> dict[str, object]:
    """What the UI shows of a publish for one view: its rows, the file and the publish's time."""
    if publication is None:
        return {"served_by": "the Snowflake view, read by the BI role"}
    return {
        "dagster/row_count": publication.rows[view],
        "published_to": str(publication.path),
        "bytes": publication.size_bytes,
        "seconds_publish": round(publication.seconds, 3),
    }
