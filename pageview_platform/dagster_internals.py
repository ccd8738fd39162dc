"""Every name this platform takes from Dagster's private modules (`dagster._…`), and only here.

Dagster offers no public API for these; an upgrade may move or change them, and
pageview_platform_tests/test_dagster_internals.py fails loudly, naming the one that changed.
Every other module imports from `dagster` (public) or from this module, never from `dagster._`.
"""

from __future__ import annotations

# What each is for:
# - the run tags Dagster itself sets and reads: the partition (or range) of a run, its backfill;
# - the CLI's launch (runs.py): a run recorded in the instance with the code location's origin,
#   as the webserver records it (so the UI can re-execute it), then executed in this process;
#   Dagster's public execute_job records a run of its own, without that origin;
# - types only: what define_asset_job returns, a step's stats, a serialized error, and the
#   kind of an instigator (sensor or schedule) whose state the live demo reads;
# - the database I/O manager's parts, which dagster-duckdb and dagster-snowflake build on and
#   the pandas I/O managers (warehouse/frames.py) adapt: client, handler, table slice, metadata.
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.execution.api import execute_run
from dagster._core.execution.stats import RunStepKeyStatsSnapshot
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import InProcessCodeLocation
from dagster._core.storage.db_io_manager import DbClient, DbIOManager, DbTypeHandler, TableSlice
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.error import SerializableErrorInfo
from dagster._utils.hosted_user_process import recon_job_from_origin

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "BACKFILL_ID_TAG",
    "PARTITION_NAME_TAG",
    "DbClient",
    "DbIOManager",
    "DbTypeHandler",
    "InProcessCodeLocation",
    "InProcessCodeLocationOrigin",
    "InstigatorType",
    "LoadableTargetOrigin",
    "ReconstructableJob",
    "RunStepKeyStatsSnapshot",
    "SerializableErrorInfo",
    "TableMetadataSet",
    "TableSlice",
    "UnresolvedAssetJobDefinition",
    "execute_run",
    "recon_job_from_origin",
]
