"""Freshness: a capture that stops arriving turns red in the UI and raises an alert."""

from datetime import timedelta

from dagster import (
    AssetChecksDefinition,
    AssetCheckSeverity,
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
