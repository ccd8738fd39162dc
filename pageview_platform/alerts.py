"""Alerts: where failed runs, failed checks and missed loads are sent."""

from dagster import SensorDefinition


def build_alert_sensors() -> list[SensorDefinition]:
    """Sensors that turn failures into alerts."""
    return []
