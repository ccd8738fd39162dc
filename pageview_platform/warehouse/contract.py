"""The columns the extract process promised for each landing table, held before every capture."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from pageview_platform.warehouse.session import execute
from pageview_platform.warehouse.sql import read_sql


class LandingSchemaDrift(ValueError):
    """A landing table lacks a promised column or holds one with another type."""


class LandingTableMissing(LandingSchemaDrift):
    """The landing table does not exist at all."""


@dataclass(frozen=True)
class LandingContract:
    """A landing table's promised columns and their DuckDB types."""

    table: str
    columns: Mapping[str, str]

    def verify(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """Raises LandingSchemaDrift naming every missing or re-typed column; returns the extra
        columns, which the capture leaves behind (it selects the promised columns by name)."""
        found = {
            column: _promised_type(data_type, scale)
            for column, data_type, scale in execute(
                con, read_sql("contracts/landing_columns.sql"), {"table": self.table}
            ).fetchall()
        }
        name = f"landing.{self.table}"
        if not found:
            raise LandingTableMissing(f"{name} does not exist; nothing captured")
        problems = [
            f'column "{column}" is missing'
            if column not in found
            # A silent cast would shift a TIMESTAMPTZ by the session's zone or turn text into
            # ids; only the promised type is copied verbatim.
            else f'column "{column}" is {found[column]}, expected {expected}'
            for column, expected in self.columns.items()
            if found.get(column) != expected
        ]
        extra = [column for column in found if column not in self.columns]
        if problems:
            if extra:
                problems.append("unexpected " + ", ".join(f'"{column}"' for column in extra))
            raise LandingSchemaDrift(
                f"{name} does not match the extract's contract: {'; '.join(problems)};"
                " nothing captured"
            )
        return extra


# Snowflake's names for the promised types; an integer is a NUMBER without decimals there.
_SNOWFLAKE_TYPES = {"TEXT": "VARCHAR", "TIMESTAMP_NTZ": "TIMESTAMP"}


def _promised_type(data_type: str, numeric_scale: int | None) -> str:
    """DATA_TYPE as the contract names it (DuckDB's names), whichever warehouse reported it."""
    if data_type == "NUMBER":
        return "BIGINT" if numeric_scale == 0 else f"NUMBER with scale {numeric_scale}"
    return _SNOWFLAKE_TYPES.get(data_type, data_type)


USERS_LANDING = LandingContract("users_extract", {"id": "BIGINT", "postcode": "VARCHAR"})
PAGEVIEWS_LANDING = LandingContract(
    "pageviews_extract",
    {"user_id": "BIGINT", "url": "VARCHAR", "pageview_datetime": "TIMESTAMP"},
)
