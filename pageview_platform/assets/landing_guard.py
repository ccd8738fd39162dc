"""Whether the landing table may be captured into a partition: decided before anything is written.

The landing tables hold only the current load and carry no partition of their own, so a capture
started for the wrong partition (a UI click, a backfill, a re-executed run) would overwrite a
captured load that can never be extracted again. A capture is taken only when the landing rows
belong to the partition and replace nothing but the same load, unless the operator confirms the
landing table's fingerprint (the CLI's ingest does, for the load it was told to ingest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pageview_platform.warehouse.session import Connection, execute
from pageview_platform.warehouse.sql import read_sql

LOAD_WINDOW = timedelta(hours=2)
CONFIRM_FIELD = "confirm_landing_fingerprint"


@dataclass(frozen=True)
class CaptureDecision:
    """A capture's verdict: refused with a reason, or taken, possibly replacing other content."""

    landing_fingerprint: str
    refusal: str | None = None
    replaced_fingerprint: str | None = None


def fingerprint(rows: int, content_hash: str) -> str:
    """A load's identity as the capture log keeps it: its row count and the sum of row hashes."""
    return f"{rows}:{content_hash}"


def _query(con: Connection, sql: str, params: Mapping[str, object]) -> dict[str, object]:
    cursor = execute(con, read_sql(sql), params)
    names = [column[0].lower() for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _confirmation(landing: str, confirmed: str) -> tuple[bool, str | None]:
    """Whether the operator confirmed this very landing content; a stale confirmation refuses."""
    if not confirmed:
        return False, None
    if confirmed != landing:
        return False, (
            f"the landing table's fingerprint is {landing}, not the confirmed {confirmed}: it was"
            " reloaded since; confirm the new fingerprint if it is the load you mean"
        )
    return True, None


def _replacement(
    what: str,
    key: str,
    landing: str,
    confirmed: bool,
    row: Mapping[str, object],
    relaunch: str,
    never_over: str | None = None,
) -> CaptureDecision:
    """The verdict on content the partition or another partition already holds; NEVER_OVER says
    why the landing table may not replace a captured copy even on the operator's confirmation
    (it is evidently another partition's load: a typo would destroy this partition's own)."""
    captured = fingerprint(int(row["captured_rows"]), str(row["captured_hash"]))
    elsewhere = row["same_content_captured_as"]
    if row["was_captured"] and captured != landing:
        if never_over is not None:
            return CaptureDecision(
                landing,
                refusal=f"{key} already holds a captured {what} ({captured}) and {never_over},"
                f" which never replaces it, even when confirmed; if the {what} really was"
                f" re-extracted, land the re-extract and {relaunch}",
            )
        if not confirmed:
            return CaptureDecision(
                landing,
                refusal=f"{key} already holds a captured {what} ({captured}) and the landing table"
                f" holds another ({landing}); replacing a captured {what} needs the operator's"
                f" confirmation: {relaunch}, or launch with run config"
                f" {CONFIRM_FIELD}: '{landing}'",
            )
        return CaptureDecision(landing, replaced_fingerprint=captured)
    if elsewhere is not None and captured != landing and not confirmed:
        return CaptureDecision(
            landing,
            refusal=f"the landing table ({landing}) is the {what} already captured as"
            f" {elsewhere:%Y-%m-%d %H:%M}, not the {what} of {key}; if it really is both,"
            f" {relaunch}, or launch with run config {CONFIRM_FIELD}: '{landing}'",
        )
    return CaptureDecision(landing)


def judge_pageviews_load(con: Connection, hour: datetime, confirmed: str = "") -> CaptureDecision:
    """Whether landing.pageviews_extract may be captured as the load of HOUR."""
    row = _query(con, "guards/pageviews_load_fits_hour.sql", {"start": hour})
    return pageviews_verdict(row, hour, confirmed)


def pageviews_verdict(row: Mapping[str, object], hour: datetime, confirmed: str) -> CaptureDecision:
    """The verdict from the guard query's row (see guards/pageviews_load_fits_hour.sql)."""
    landing = fingerprint(int(row["landing_rows"]), str(row["landing_hash"]))
    key = f"load hour {hour:%Y-%m-%dT%H}"
    dated, in_window = int(row["dated_rows"]), int(row["rows_in_window"])
    after_window = int(row["rows_after_window"])
    window_end = hour + LOAD_WINDOW
    confirmed_ok, stale = _confirmation(landing, confirmed)
    if stale:
        return CaptureDecision(landing, refusal=stale)
    # A load holds its hour's views, a few minutes of the next hour's and late views of any
    # earlier hour, never views from after its window (the extract has not seen them yet): a
    # load with more of those than views in its window is a later hour's load. The operator may
    # still say it is this hour's first load: its views from after the window are then
    # quarantined (after_load_window), as the rules say, and stay in the verbatim copy.
    misfit = None
    busiest = row["busiest_hour"]
    if dated and after_window > in_window:
        misfit = (
            f"the landing load is not the load of {hour:%Y-%m-%dT%H}: {after_window} of its"
            f" {dated} dated views are after its window {hour:%Y-%m-%d %H:%M}..{window_end:%H:%M}"
            f" and {in_window} in it (they run from {row['first_view']} to {row['last_view']});"
            f" ingest it as the hour its views belong to, most likely --hour {busiest:%Y-%m-%dT%H}"
        )
        if not confirmed_ok:
            return CaptureDecision(
                landing,
                refusal=f"{misfit} (the CLI's ingest, or run config {CONFIRM_FIELD}: '{landing}',"
                " takes it as this hour's first load, its later views quarantined)",
            )
    elsewhere = row["same_content_captured_as"]
    never_over = (
        f"the landing table holds a later hour's load (most likely {busiest:%Y-%m-%dT%H}'s)"
        if misfit
        else f"the landing table is the load captured as {elsewhere:%Y-%m-%dT%H}"
        if elsewhere is not None
        else None
    )
    relaunch = f"run `pageview-platform ingest-pageviews --hour {hour:%Y-%m-%dT%H}`"
    return _replacement("load", key, landing, confirmed_ok, row, relaunch, never_over)


def judge_users_snapshot(con: Connection, day: datetime, confirmed: str = "") -> CaptureDecision:
    """Whether landing.users_extract may be captured as the snapshot of DAY."""
    row = _query(con, "guards/users_snapshot_fits_date.sql", {"start": day})
    return users_verdict(row, day, confirmed)


def users_verdict(row: Mapping[str, object], day: datetime, confirmed: str) -> CaptureDecision:
    """The verdict from the guard query's row (see guards/users_snapshot_fits_date.sql)."""
    landing = fingerprint(int(row["landing_rows"]), str(row["landing_hash"]))
    confirmed_ok, stale = _confirmation(landing, confirmed)
    if stale:
        return CaptureDecision(landing, refusal=stale)
    relaunch = f"run `pageview-platform ingest-users --date {day:%Y-%m-%d}`"
    # Two dates may hold the same snapshot (nobody moved); a later date's snapshot stamped over
    # an earlier captured one, though, is the current landing table ingested under an old date.
    later = row["same_content_captured_last"]
    never_over = (
        f"the landing table is the snapshot captured as {later:%Y-%m-%d}, a later date"
        if later is not None and later > day
        else None
    )
    return _replacement(
        "snapshot",
        f"snapshot date {day:%Y-%m-%d}",
        landing,
        confirmed_ok,
        row,
        relaunch,
        never_over,
    )


def landing_content(con: Connection, table: str) -> tuple[int, str]:
    """The rows and content hash of landing.TABLE ('users_extract' or 'pageviews_extract')."""
    row = _query(con, f"guards/{table}_landing_fingerprint.sql", {})
    return int(row["landing_rows"]), str(row["landing_hash"])


def landing_fingerprint(con: Connection, table: str) -> str:
    """The current fingerprint of landing.TABLE ('users_extract' or 'pageviews_extract')."""
    return fingerprint(*landing_content(con, table))


def was_captured(con: Connection, table: str, rows: int, content_hash: str) -> bool:
    """Whether a load of TABLE ('users_extract' or 'pageviews_extract') with this fingerprint
    was captured (or, a users snapshot, held) before, under any partition."""
    params = {"rows": rows, "hash": content_hash}
    (captured,) = execute(con, read_sql(f"guards/{table}_captured.sql"), params).fetchone()
    return bool(captured)
