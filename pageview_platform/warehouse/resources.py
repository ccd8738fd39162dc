"""Picks the warehouse for the environment: DuckDB by default, Snowflake in production.

The Snowflake module (and the connector, sqlglot, pyarrow behind it) is imported only when the
settings name Snowflake.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from pageview_platform.settings import Settings, SettingsError, SnowflakeSettings
from pageview_platform.warehouse import duckdb as duckdb_warehouse
from pageview_platform.warehouse.session import Connection, WarehouseResource

# Secrets reach the resources through EnvVar, so the UI's resource config never shows them.
_SECRETS = {"password": "SNOWFLAKE_PASSWORD", "private_key": "SNOWFLAKE_PRIVATE_KEY"}


def _snowflake_config(snowflake: SnowflakeSettings) -> dict[str, Any]:
    config = snowflake.resource_config()
    for field, variable in _SECRETS.items():
        if field in config:
            config[field] = dg.EnvVar(variable)
    return config


def warehouse_resource(settings: Settings) -> WarehouseResource:
    """The `warehouse` resource of the environment's warehouse."""
    if settings.snowflake is not None:
        from pageview_platform.warehouse import snowflake as snowflake_warehouse

        return snowflake_warehouse.SnowflakeWarehouse(**_snowflake_config(settings.snowflake))
    return duckdb_warehouse.DuckDBWarehouse(
        database=str(settings.duckdb_path),
        connection_config=settings.duckdb_connection_config,
        start_date=settings.start_date.isoformat(),
    )


def warehouse_resources(settings: Settings) -> dict[str, Any]:
    """The resources of the configured warehouse: the `warehouse` every asset writes through."""
    return {"warehouse": warehouse_resource(settings)}


@contextmanager
def open_connection(settings: Settings) -> Iterator[Connection]:
    """A connection to the configured warehouse, for the CLI; closed when the block ends."""
    if settings.snowflake is not None:
        from pageview_platform.warehouse import snowflake as snowflake_warehouse

        with snowflake_warehouse.session(settings.snowflake.resource_config()) as session:
            yield session
        return
    connection = duckdb_warehouse.connect(
        settings.duckdb_path, settings.duckdb_connection_config, settings.start_date
    )
    try:
        yield connection
    finally:
        connection.close()


def deploy_schema(settings: Settings, grants: bool) -> list[str]:
    """Deploys schemas, tables and views (and with GRANTS the BI role); returns what it ran."""
    if settings.snowflake is None:
        if grants:
            raise SettingsError("--grants needs PAGEVIEW_WAREHOUSE=snowflake: DuckDB has no roles")
        with open_connection(settings) as connection:
            duckdb_warehouse.deploy_schema(connection, settings.start_date, landing=True)
            return [f"deployed {settings.duckdb_path}"]
    from pageview_platform.warehouse import snowflake as snowflake_warehouse

    snowflake = settings.snowflake
    with snowflake_warehouse.session(snowflake.resource_config()) as session:
        ran = snowflake_warehouse.deploy_schema(session, settings.start_date)
        if grants:
            for statement in snowflake_warehouse.bi_grants(
                snowflake.database, snowflake.bi_role, snowflake.bi_warehouse, snowflake.grants_role
            ):
                session.execute_native(statement)
                ran.append(statement)
    return ran
