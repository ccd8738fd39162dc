"""Assembles the code location: assets, jobs and resources for the configured warehouse."""

from __future__ import annotations

import dagster as dg

from pageview_platform.alerts import AlertSink, SnowflakeConnection, build_alert_sensors
from pageview_platform.assets.bi import build_bi_specs
from pageview_platform.assets.capture import build_capture_assets
from pageview_platform.assets.history import build_history_assets
from pageview_platform.assets.pageviews import build_pageview_assets
from pageview_platform.assets.partitions import Partitions
from pageview_platform.assets.quarantine_summary import (
    FRAME_IO,
    build_quarantine_summary_assets,
    build_quarantine_summary_schedule,
)
from pageview_platform.automation import build_automation
from pageview_platform.checks import build_asset_checks
from pageview_platform.dagster_internals import reuse_sqlite_engines
from pageview_platform.freshness import build_freshness
from pageview_platform.jobs import build_jobs
from pageview_platform.replay import build_replay_jobs
from pageview_platform.settings import get_settings
from pageview_platform.warehouse.frames import frame_io_manager
from pageview_platform.warehouse.publish import BIDatabase
from pageview_platform.warehouse.resources import warehouse_resource, warehouse_resources


@dg.definitions
def defs() -> dg.Definitions:
    """Built on load, so the environment in force when the code location loads decides."""
    # Every process that loads the code location writes runs' events: the CLI, run workers.
    reuse_sqlite_engines()
    settings = get_settings()
    partitions = Partitions.starting(settings.start_date)
    automation_sensors, schedules = build_automation(settings)
    freshness_checks, freshness_sensor = build_freshness()
    connection = {
        "database": str(settings.duckdb_path),
        "connection_config": settings.duckdb_connection_config,
        "start_date": settings.start_date.isoformat(),
    }
    return dg.Definitions(
        assets=[
            *build_capture_assets(partitions, settings),
            *build_history_assets(partitions, settings),
            *build_pageview_assets(partitions, settings),
            *build_quarantine_summary_assets(partitions, settings),
            *build_bi_specs(settings),
        ],
        asset_checks=[*build_asset_checks(partitions, settings), *freshness_checks],
        sensors=[*build_alert_sensors(), *automation_sensors, freshness_sensor],
        schedules=[*schedules, build_quarantine_summary_schedule(partitions, settings)],
        jobs=[*build_jobs(), *build_replay_jobs()],
        # Every step is one SQL statement in the warehouse; a process per step only adds start-up.
        executor=dg.in_process_executor,
        resources={
            **warehouse_resources(settings),
            # Where every run that changes the answers publishes them for BI tools (DuckDB only).
            "bi_database": BIDatabase(
                path=str(settings.bi_duckdb_path) if settings.warehouse == "duckdb" else None,
                spare=settings.bi_spare,
            ),
            # The one asset whose result is a small frame (pandas), written by an I/O manager.
            FRAME_IO: frame_io_manager(settings),
            "alerts": AlertSink(
                **connection,
                snowflake=SnowflakeConnection.of(warehouse_resource(settings))
                if settings.snowflake is not None
                else None,
                # Through EnvVar the token stays out of the resource config the UI shows.
                slack_token=dg.EnvVar("PAGEVIEW_SLACK_TOKEN") if settings.slack_token else None,
                slack_channel=settings.slack_channel,
            ),
        },
    )
