"""Freshness: a capture that stops arriving turns red in the UI and raises an alert."""

from datetime import timedelta

from dagster import (
    AssetCheckKey,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DefaultSensorStatus,
    SensorDefinition,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
)

from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT, RAW_USERS_EXTRACT

FRESHNESS_SENSOR = "freshness_checks_sensor"
# An hourly load missing for two hours; a daily snapshot older than a day plus two hours.
PAGEVIEWS_MAX_AGE = timedelta(hours=2)
USERS_MAX_AGE = timedelta(hours=26)
# The checks build_last_update_freshness_checks makes. The sensor evaluates them; inside an
# ingest run, right after the capture, they could only pass, and cost a step per load.
FRESHNESS_CHECKS = AssetSelection.checks(
    *(
        AssetCheckKey(AssetKey(asset), "freshness_check")
        for asset in (RAW_PAGEVIEWS_EXTRACT, RAW_USERS_EXTRACT)
    )
)


def build_freshness() -> tuple[list[AssetChecksDefinition], SensorDefinition]:
    """Freshness checks on both captures, and the sensor that evaluates them."""
    checks = [
        *build_last_update_freshness_checks(
            assets=[RAW_PAGEVIEWS_EXTRACT],
            lower_bound_delta=PAGEVIEWS_MAX_AGE,
            severity=AssetCheckSeverity.ERROR,
        ),
        *build_last_update_freshness_checks(
            assets=[RAW_USERS_EXTRACT],
            lower_bound_delta=USERS_MAX_AGE,
            severity=AssetCheckSeverity.ERROR,
        ),
    ]
    sensor = build_sensor_for_freshness_checks(
        freshness_checks=checks,
        name=FRESHNESS_SENSOR,
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING,
    )
    return checks, sensor
