"""Writes simulated extracts into the landing tables, truncating and reloading like production."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Literal, NamedTuple

import duckdb

from pageview_platform.simulator.config import SimulationConfig
from pageview_platform.simulator.pageviews import pageviews_load_sql
from pageview_platform.simulator.users import users_snapshot_sql

_USERS_DDL = "CREATE TABLE IF NOT EXISTS landing.users_extract (id BIGINT, postcode VARCHAR)"
_PAGEVIEWS_DDL = (
    "CREATE TABLE IF NOT EXISTS landing.pageviews_extract"
    " (user_id BIGINT, url VARCHAR, pageview_datetime TIMESTAMP)"
)


class Event(NamedTuple):
    """One extract landing, as production sees it: the users snapshot of a day or an hour's load."""

    kind: Literal["users", "pageviews"]
    key: date | datetime


class Simulator:
    """A deterministic operational system whose state on any day is a function of (seed, day)."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config

    def write_users_snapshot(self, con: duckdb.DuckDBPyConnection, day: date) -> int:
        """Replaces landing.users_extract with the snapshot taken at 00:00 on day; returns rows."""
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"day must be a date, got {day!r}")
        index = (day - self.config.start_date).days
        if index < 0:
            raise ValueError(f"{day} is before the simulation starts on {self.config.start_date}")
        return _reload(
            con,
            _USERS_DDL,
            "landing.users_extract",
            "id, postcode",
            users_snapshot_sql(self.config, index),
        )

    def write_pageviews_load(self, con: duckdb.DuckDBPyConnection, hour: datetime) -> int:
        """Replaces landing.pageviews_extract with the load keyed by hour; returns rows."""
        if not isinstance(hour, datetime) or hour.tzinfo is not None:
            raise TypeError(f"hour must be a naive datetime, got {hour!r}")
        if hour.minute or hour.second or hour.microsecond:
            raise ValueError(f"hour must be at the top of an hour, got {hour}")
        start = datetime.combine(self.config.start_date, time())
        index = (hour - start) // timedelta(hours=1)
        if index < 0:
            raise ValueError(f"{hour} is before the simulation starts at {start}")
        return _reload(
            con,
            _PAGEVIEWS_DDL,
            "landing.pageviews_extract",
            "user_id, url, pageview_datetime",
            pageviews_load_sql(self.config, index),
        )

    def events(self) -> Iterator[Event]:
        """Yields the configured days' landings in production order: users, then 24 hourly loads."""
        for offset in range(self.config.days):
            day = self.config.start_date + timedelta(days=offset)
            yield Event("users", day)
            midnight = datetime.combine(day, time())
            for hour in range(24):
                yield Event("pageviews", midnight + timedelta(hours=hour))


def _reload(
    con: duckdb.DuckDBPyConnection, ddl: str, table: str, columns: str, select_sql: str
) -> int:
    """Truncates and refills a landing table in one transaction, so readers never see it empty."""
    con.execute("CREATE SCHEMA IF NOT EXISTS landing")
    con.execute(ddl)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table}")
        # Naming the columns keeps a pre-existing table usable whatever its column order.
        inserted = con.execute(f"INSERT INTO {table} ({columns}) {select_sql}").fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    assert inserted is not None
    return int(inserted[0])
