"""The start date a warehouse records, and `pageview-platform set-start-date`, which moves it.

The start date bounds the partitions and the `before_start_date` rule. A DuckDB warehouse pins it
beside its file (settings.start_date_pin), which get_settings compares with PAGEVIEW_START_DATE;
core.platform_settings holds the copy the rules read, and is the only record on Snowflake. The
CLI compares that record here before a command writes the warehouse.

Moving the start date never loses a captured row: a later date is refused while anything
captured (a snapshot, a load, or a view the current rules may have admitted) lies before it, and
an earlier one re-admits, by the quarantine replay, the views it no longer rejects.

Warehouse modules are imported inside the functions: the CLI imports this module before it has
refused or accepted its arguments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from pageview_platform.settings import (
    Settings,
    SettingsError,
    StartDateChanged,
    pinned_start_date,
    repin_start_date,
)

_RECORDED = "SELECT max(start_date) FROM core.platform_settings"
_HAS_RECORD = (
    "SELECT count(*) FROM information_schema.tables"
    " WHERE lower(table_schema) = 'core' AND lower(table_name) = 'platform_settings'"
)
# The captured tables, and in each the earliest instant a start date bounds: the partition keys,
# and the views at or after the earliest recorded start date (a view before it is quarantined
# whatever the start date). A table a warehouse does not have yet is skipped.
_RAW_TABLES = (
    "SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = 'raw'"
)
_EARLIEST = {
    "users_extract": ("SELECT min(snapshot_date) FROM raw.users_extract",),
    "users_extract_held": ("SELECT min(snapshot_date) FROM raw.users_extract_held",),
    "pageviews_extract": (
        "SELECT min(load_hour) FROM raw.pageviews_extract",
        "SELECT min(pageview_datetime) FROM raw.pageviews_extract"
        " WHERE pageview_datetime >= $since",
    ),
}
# Views the current start date rejects that an earlier one admits.
_READMITTED = (
    "SELECT count(*) FROM core.pageviews_quarantine"
    " WHERE reason = 'before_start_date' AND pageview_datetime >= $start"
)


class StartDateRefused(SettingsError):
    """`set-start-date` would leave captured data outside the partitions: nothing changed."""


class NoWarehouse(RuntimeError):
    """There is no warehouse, or it records no start date, to move: nothing changed."""


@dataclass(frozen=True)
class StartDateMove:
    """What `set-start-date` did."""

    warehouse: str
    on_snowflake: bool
    old: date
    new: date
    readmittable_rows: int


def warehouse_name(settings: Settings) -> str:
    if settings.snowflake is not None:
        return f"{settings.snowflake.database} on Snowflake"
    return f"at {settings.duckdb_path}"


@contextmanager
def _connection(settings: Settings, read_only: bool = False) -> Iterator[Any]:
    """A plain connection to the warehouse: unlike the platform's, it deploys nothing, so it
    writes no start date. A DuckDB file another process holds raises duckdb.IOException."""
    if settings.snowflake is not None:
        from pageview_platform.warehouse.snowflake import session

        with session(settings.snowflake.resource_config()) as snowflake:
            yield snowflake
        return
    import duckdb

    con = duckdb.connect(
        str(settings.duckdb_path), read_only=read_only, config=settings.duckdb_connection_config
    )
    try:
        yield con
    finally:
        con.close()


def recorded_start_date(con: Any) -> date | None:
    """The start date in core.platform_settings; None before the schema is deployed."""
    [(tables,)] = con.execute(_HAS_RECORD).fetchall()
    if not tables:
        return None
    [(recorded,)] = con.execute(_RECORDED).fetchall()
    return recorded.date() if isinstance(recorded, datetime) else recorded


def check_recorded_start_date(settings: Settings) -> None:
    """Refuses (StartDateChanged) a start date other than the one the warehouse records, where
    get_settings cannot see it: on Snowflake, and in a DuckDB warehouse without a pin."""
    if settings.snowflake is None and (
        pinned_start_date(settings.duckdb_path) is not None or not settings.duckdb_path.exists()
    ):
        return
    with _connection(settings, read_only=True) as con:
        recorded = recorded_start_date(con)
    if recorded is not None and recorded != settings.start_date:
        # Without a pin, nothing but PAGEVIEW_START_DATE (or its default) gives the date.
        raise StartDateChanged(
            settings.start_date, recorded, warehouse_name(settings), pinned=False
        )


def earliest_captured(con: Any, since: date) -> datetime | None:
    """The earliest captured snapshot date or load hour, or view at or after SINCE."""
    tables = {name for (name,) in con.execute(_RAW_TABLES).fetchall()}
    bound = {"since": datetime.combine(since, time())}
    earliest: list[datetime] = []
    for table, queries in _EARLIEST.items():
        if table not in tables:
            continue
        for query in queries:
            # DuckDB refuses a parameter the statement does not use.
            [(first,)] = con.execute(query, bound if "$since" in query else {}).fetchall()
            if first is not None:
                earliest.append(first)
    return min(earliest, default=None)


def move_start_date(settings: Settings, new: date) -> StartDateMove:
    """Records NEW as the warehouse's start date, in core.platform_settings and (DuckDB) in its
    pin, after checking that no captured data lies before it. Running it again is harmless."""
    given = os.environ.get("PAGEVIEW_START_DATE") or None
    if (given is not None or settings.snowflake is not None) and settings.start_date != new:
        shown = given or f"{settings.start_date} (the default)"
        raise StartDateRefused(
            f"set-start-date {new}: PAGEVIEW_START_DATE is {shown} here, and the platform would"
            f" refuse to run against a warehouse that starts at {new}: set"
            f" PAGEVIEW_START_DATE={new}"
            + ("" if settings.snowflake is not None else " (or unset it)")
            + " and run it again; nothing changed"
        )
    name = warehouse_name(settings)
    if settings.snowflake is None and not settings.duckdb_path.exists():
        raise NoWarehouse(
            f"no warehouse at {settings.duckdb_path}: nothing to move; set PAGEVIEW_START_DATE"
            " and run `pageview-platform deploy-schema` to create one; nothing changed"
        )
    pinned = pinned_start_date(settings.duckdb_path) if settings.snowflake is None else None
    with _connection(settings) as con:
        recorded = recorded_start_date(con)
        known = [d for d in (pinned, recorded) if d is not None]
        if not known:
            raise NoWarehouse(
                f"the warehouse {name} records no start date: run `pageview-platform"
                " deploy-schema` first; nothing changed"
            )
        old = pinned or min(known)
        # Views at or after the earliest start date either record names may have been admitted.
        first = earliest_captured(con, min(known))
        if first is not None and new > first.date():
            raise StartDateRefused(
                f"set-start-date {new}: the warehouse {name} holds data captured from"
                f" {first:%Y-%m-%d %H:%M}, which a start date of {new} would leave outside the"
                f" partitions; the latest start date it can take is {first.date()};"
                " nothing changed"
            )
        start = datetime.combine(new, time())
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM core.platform_settings")
            con.execute(
                "INSERT INTO core.platform_settings (start_date) VALUES ($start)", {"start": start}
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        [(readmittable,)] = con.execute(_READMITTED, {"start": start}).fetchall()
    if settings.snowflake is None:
        # After the warehouse: a crash between the two leaves the pin at the old date, and the
        # refusal it then causes names this command again.
        repin_start_date(settings.duckdb_path, new)
    return StartDateMove(name, settings.snowflake is not None, old, new, readmittable)
