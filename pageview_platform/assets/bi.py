"""What BI tools read: the six `bi` views, and on DuckDB the published BI database holding them."""

from dagster import AssetSpec

from pageview_platform.assets.history import CURRENT_POSTCODE_BY_USER, USER_POSTCODE_HISTORY
from pageview_platform.settings import Settings
from pageview_platform.warehouse.publish import BI_VIEWS

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


def build_bi_specs(settings: Settings) -> list[AssetSpec]:
    """The `bi` views, downstream of the aggregates they read. No step of their own: the steps
    that change the answers (the merge, the history, the pageviews replay) publish them right
    after they commit and report them materialized, so a run's answers are readable when it
    ends, and no button materializes a view alone."""
    served = (
        " Published on DuckDB as a table of the same name in the BI database"
        f" ({settings.bi_duckdb_path.name}) that BI tools hold open read-only, by every step"
        " that changes it, right after its commit."
        if settings.warehouse == "duckdb"
        else " A Snowflake view the BI role reads."
    )
    return [
        AssetSpec(
            key,
            description=f"{_answers(view)} Columns period_start (UTC), postcode,"
            f" pageviews.{served}",
            # The history's re-attribution moves the aggregates too.
            deps=[aggregate, USER_POSTCODE_HISTORY, CURRENT_POSTCODE_BY_USER],
            kinds={settings.warehouse, "sql"},
            group_name="bi",
        )
        for view, (key, aggregate) in BI_ASSETS.items()
    ]
