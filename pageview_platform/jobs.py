"""The runs an ingest starts: one job per step of a load's path through the graph."""

from dagster import AssetSelection, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from pageview_platform.assets.capture import (
    PAGEVIEWS_QUARANTINE,
    RAW_PAGEVIEWS_EXTRACT,
    RAW_USERS_EXTRACT,
    USERS_QUARANTINE,
)
from pageview_platform.assets.history import USER_POSTCODE_HISTORY
from pageview_platform.assets.pageviews import PAGEVIEW_FACT

CAPTURE_USERS_SNAPSHOT = "capture_users_snapshot"
UPDATE_POSTCODE_HISTORY = "update_postcode_history"
CAPTURE_PAGEVIEWS_LOAD = "capture_pageviews_load"
ATTRIBUTE_PAGEVIEWS = "attribute_pageviews"

capture_users_snapshot = define_asset_job(
    CAPTURE_USERS_SNAPSHOT,
    selection=AssetSelection.assets(RAW_USERS_EXTRACT, USERS_QUARANTINE),
    description="Capture the landing users snapshot and quarantine its bad rows.",
)
update_postcode_history = define_asset_job(
    UPDATE_POSTCODE_HISTORY,
    selection=AssetSelection.assets(USER_POSTCODE_HISTORY),
    description="Rebuild postcode versions from a snapshot date through the latest.",
)
capture_pageviews_load = define_asset_job(
    CAPTURE_PAGEVIEWS_LOAD,
    selection=AssetSelection.assets(RAW_PAGEVIEWS_EXTRACT, PAGEVIEWS_QUARANTINE),
    description="Capture the landing pageviews load and quarantine its bad rows.",
)
attribute_pageviews = define_asset_job(
    ATTRIBUTE_PAGEVIEWS,
    selection=AssetSelection.assets(PAGEVIEW_FACT).downstream(),
    description="Rebuild the fact and both aggregates for a range of pageview hours.",
)


def build_jobs() -> list[UnresolvedAssetJobDefinition]:
    """Capture (one partition), history (a date range) and attribution (an hour range) jobs."""
    return [
        capture_users_snapshot,
        update_postcode_history,
        capture_pageviews_load,
        attribute_pageviews,
    ]
