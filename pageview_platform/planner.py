"""What runs for a load: the one plan the CLI's ingest and the code location's sensors both follow.

A users snapshot is one run (capture, quarantine, history), unless a later snapshot was captured
before it: then the capture alone, and the history from its date through the latest snapshot as
a range in a second run. A held snapshot's acceptance is always followed by that range. A
pageviews load is one run (capture, quarantine, merge).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pageview_platform.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from pageview_platform.jobs import (
    ACCEPT_HELD_USERS_SNAPSHOT,
    CAPTURE_USERS_SNAPSHOT,
    INGEST_PAGEVIEWS_LOAD,
    INGEST_USERS_SNAPSHOT,
    UPDATE_POSTCODE_HISTORY,
)
from pageview_platform.partition_keys import day_key, hour_key
from pageview_platform.warehouse.session import Connection


@dataclass(frozen=True)
class UsersSnapshot:
    """The landing users snapshot, taken as the snapshot of DAY."""

    day: date


@dataclass(frozen=True)
class HeldUsersSnapshot:
    """DAY's users snapshot a blocking check held, accepted as it is."""

    day: date


@dataclass(frozen=True)
class PageviewsLoad:
    """The landing pageviews load, taken as the load of HOUR."""

    hour: datetime


Load = UsersSnapshot | HeldUsersSnapshot | PageviewsLoad


@dataclass(frozen=True)
class PlannedRun:
    """One run to start: a job over one partition (LAST None) or the range FIRST..LAST."""

    job_name: str
    first: str
    last: str | None = None
    # The run copies the landing table: whoever starts it may pin the content it expects.
    captures_landing: bool = False

    @property
    def tags(self) -> dict[str, str]:
        """The run's partition tags: its one partition, or its range (however short)."""
        if self.last is None:
            return {PARTITION_NAME_TAG: self.first}
        return {
            ASSET_PARTITION_RANGE_START_TAG: self.first,
            ASSET_PARTITION_RANGE_END_TAG: self.last,
        }


def history_end_after_capture(con: Connection, day: date) -> date:
    """The last day of the history a snapshot of DAY invalidates: the latest accepted snapshot's,
    or DAY (held snapshots are not in raw.users_extract)."""
    [(latest,)] = con.execute("SELECT max(snapshot_date) FROM raw.users_extract").fetchall()
    return max(latest.date(), day) if latest else day


def history_rebuild(con: Connection, day: date) -> PlannedRun:
    """The run that rebuilds postcode history from DAY through the latest accepted snapshot."""
    return PlannedRun(
        UPDATE_POSTCODE_HISTORY, day_key(day), day_key(history_end_after_capture(con, day))
    )


def plan(con: Connection, load: Load) -> list[PlannedRun]:
    """The runs that take LOAD through the graph, in the order they must run."""
    if isinstance(load, PageviewsLoad):
        return [PlannedRun(INGEST_PAGEVIEWS_LOAD, hour_key(load.hour), captures_landing=True)]
    history = history_rebuild(con, load.day)
    if isinstance(load, HeldUsersSnapshot):
        return [PlannedRun(ACCEPT_HELD_USERS_SNAPSHOT, day_key(load.day)), history]
    if history.last == history.first:
        return [PlannedRun(INGEST_USERS_SNAPSHOT, day_key(load.day), captures_landing=True)]
    return [PlannedRun(CAPTURE_USERS_SNAPSHOT, day_key(load.day), captures_landing=True), history]
