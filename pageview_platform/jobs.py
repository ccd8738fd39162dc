"""The runs an ingest starts: one job per load, plus the rebuilds a back-dated load needs."""

import warnings

from dagster import AssetSelection, define_asset_job

from pageview_platform.assets.capture import (
    PAGEVIEWS_QUARANTINE,
    RAW_PAGEVIEWS_EXTRACT,
    RAW_USERS_EXTRACT,
    USERS_QUARANTINE,
)
from pageview_platform.assets.history import USER_POSTCODE_HISTORY
from pageview_platform.assets.pageviews import AT_VIEW_HOURLY, CURRENT_HOURLY, PAGEVIEW_FACT
from pageview_platform.assets.snapshot_holds import ACCEPT_HELD_TAG
from pageview_platform.dagster_internals import UnresolvedAssetJobDefinition
from pageview_platform.freshness import FRESHNESS_CHECKS

# An ingest job runs one load, so which of its assets' backfill policies Dagster would pick for
# a range never applies: ranges go through update_postcode_history and merge_pageviews_loads.
warnings.filterwarnings(
    "ignore", message=r"Asset job ingest_\w+ materializes assets with varying BackfillPolicies"
)

INGEST_USERS_SNAPSHOT = "ingest_users_snapshot"
CAPTURE_USERS_SNAPSHOT = "capture_users_snapshot"
ACCEPT_HELD_USERS_SNAPSHOT = "accept_held_users_snapshot"
UPDATE_POSTCODE_HISTORY = "update_postcode_history"
INGEST_PAGEVIEWS_LOAD = "ingest_pageviews_load"
MERGE_PAGEVIEWS_LOADS = "merge_pageviews_loads"

_USERS_CAPTURE = AssetSelection.assets(RAW_USERS_EXTRACT, USERS_QUARANTINE) - FRESHNESS_CHECKS
_HISTORY = AssetSelection.assets(USER_POSTCODE_HISTORY).required_multi_asset_neighbors()
_PAGEVIEWS_CAPTURE = (
    AssetSelection.assets(RAW_PAGEVIEWS_EXTRACT, PAGEVIEWS_QUARANTINE) - FRESHNESS_CHECKS
)
# With the rollups the same multi-asset writes.
_MERGE = AssetSelection.assets(
    PAGEVIEW_FACT, AT_VIEW_HOURLY, CURRENT_HOURLY
).required_multi_asset_neighbors()

ingest_users_snapshot = define_asset_job(
    INGEST_USERS_SNAPSHOT,
    selection=_USERS_CAPTURE | _HISTORY,
    description="Capture the landing users snapshot, quarantine its bad rows, add its postcode"
    " versions and re-attribute the views of users who moved or are new: one run per snapshot.",
)
capture_users_snapshot = define_asset_job(
    CAPTURE_USERS_SNAPSHOT,
    selection=_USERS_CAPTURE,
    description="Capture a back-dated users snapshot; its history is rebuilt as a range after.",
)
accept_held_users_snapshot = define_asset_job(
    ACCEPT_HELD_USERS_SNAPSHOT,
    selection=_USERS_CAPTURE,
    tags={ACCEPT_HELD_TAG: "true"},
    description="Accept the held users snapshot of a date as it is (an operator's decision: it"
    " was held as empty or shrunk); its history is rebuilt through the latest snapshot after.",
)
update_postcode_history = define_asset_job(
    UPDATE_POSTCODE_HISTORY,
    selection=_HISTORY,
    description="Rebuild postcode versions (and re-attribute views) from a date through the"
    " latest snapshot.",
)
ingest_pageviews_load = define_asset_job(
    INGEST_PAGEVIEWS_LOAD,
    selection=_PAGEVIEWS_CAPTURE | _MERGE,
    description="Capture the landing pageviews load, quarantine its bad rows and merge it into"
    " the fact and both aggregates: one run per load.",
)
merge_pageviews_loads = define_asset_job(
    MERGE_PAGEVIEWS_LOADS,
    selection=_MERGE,
    description="Merge captured loads again (idempotent); a range of loads is one run.",
)


def build_jobs() -> list[UnresolvedAssetJobDefinition]:
    """The per-load ingest jobs and the jobs that rebuild from captured copies."""
    return [
        ingest_users_snapshot,
        capture_users_snapshot,
        accept_held_users_snapshot,
        update_postcode_history,
        ingest_pageviews_load,
        merge_pageviews_loads,
    ]
