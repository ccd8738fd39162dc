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
