"""Every name this platform takes from Dagster's private modules (`dagster._…`), and only here.

Dagster offers no public API for these; an upgrade may move or change them, and
pageview_platform_tests/test_dagster_internals.py fails loudly, naming the one that changed.
Every other module imports from `dagster` (public) or from this module, never from `dagster._`.
"""

from __future__ import annotations

# Run tags Dagster itself sets and reads: the partition (or range) of a run, and its backfill.
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "BACKFILL_ID_TAG",
    "PARTITION_NAME_TAG",
]
