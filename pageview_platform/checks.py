"""Asset checks: data-quality rules on every asset, evaluated in the run that writes it."""

from dagster import AssetChecksDefinition

from pageview_platform.assets.partitions import Partitions


def build_asset_checks(partitions: Partitions) -> list[AssetChecksDefinition]:
    """Every asset check of the graph."""
    return []
