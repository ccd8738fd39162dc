"""The two partition grains, both in UTC and starting at PAGEVIEW_START_DATE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
)
from dagster._core.storage.tags import BACKFILL_ID_TAG

from pageview_platform.warehouse.sql import window_params

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Partitions:
    """Daily partitions for users snapshots, hourly ones for pageview loads and pageview hours."""

    daily: DailyPartitionsDefinition
    hourly: HourlyPartitionsDefinition

    @classmethod
    def starting(cls, start_date: date) -> Partitions:
        # end_offset=1: the snapshot of today and the load of the current hour arrive before
        # their period ends, and a load's overlap reaches into the next hour.
        return cls(
            daily=DailyPartitionsDefinition(
                start_date=start_date.isoformat(), timezone="UTC", end_offset=1
            ),
            hourly=HourlyPartitionsDefinition(
                start_date=f"{start_date.isoformat()}-00:00", timezone="UTC", end_offset=1
            ),
        )


def window(context: AssetExecutionContext | AssetCheckExecutionContext) -> dict[str, object]:
    """The run's partition window (one partition or a range) as SQL parameters."""
    return window_params(context.partition_time_window)


def capture_window(context: AssetExecutionContext) -> dict[str, object]:
    """The window of a capture run, which must target exactly one partition.

    A capture copies whatever the landing table holds now; run over a range it would stamp
    one load onto every partition of the range and destroy the copies already taken.
    """
    if BACKFILL_ID_TAG in context.run.tags:
        raise ValueError(
            f"{context.asset_key.to_user_string()} cannot be backfilled: the landing table holds"
            " only the current load; rebuild downstream assets from the captured copies instead"
        )
    return one_partition_window(
        context,
        f"{context.asset_key.to_user_string()} captures the current landing table into one"
        " partition",
    )


def one_partition_window(
    context: AssetExecutionContext | AssetCheckExecutionContext, purpose: str
) -> dict[str, object]:
    """The window of a run that must target exactly one partition; PURPOSE says why."""
    keys = context.partition_keys
    if len(keys) != 1:
        raise ValueError(
            f"{purpose}; refusing a run over {len(keys)} partitions ({keys[0]}..{keys[-1]})"
        )
    return window(context)
