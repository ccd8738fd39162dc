"""The independent oracle: the platform's rules written out in plain Python.

Nothing here reads the pipeline's SQL or imports the platform. Given a scenario -- the
ordered list of ingestions an operator ran -- it says what every BI view must hold.

A scenario is a list of events, in the order they were ingested:

    ("users", date, [(id, postcode), ...])                       ingest-users --date DATE
    ("pageviews", hour_datetime, [(user_id, url, datetime), ...]) ingest-pageviews --hour HOUR

Each event stands for "land these rows, then ingest them under this key".
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

UserRow = tuple[int | None, str | None]
PageviewRow = tuple[int | None, str | None, datetime | None]
Event = tuple[str, object, list]

UNKNOWN = "UNKNOWN"
DEFAULT_START_DATE = date(2024, 1, 1)
LOAD_WINDOW = timedelta(hours=2)  # a load of hour H may hold views up to (not including) H + 2h

# Whitespace is exactly these six ASCII characters -- not Python's wider str.split() idea of it.
_WHITESPACE_RUN = re.compile(r"[ \t\n\r\f\v]+")
# A postcode is at most this long once normalised, and holds no control character (U+0000 to
# U+001F, U+007F to U+009F) and no U+FFFD replacement character; a url is at most
# URL_MAX_LENGTH long.
POSTCODE_MAX_LENGTH = 16
URL_MAX_LENGTH = 4096
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ufffd]")

VIEW_NAMES = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in ("current_postcode", "postcode_at_view")
    for grain in ("hourly", "daily", "monthly")
)


# ---------------------------------------------------------------- replaying the operator


@dataclass
class Ingested:
    """What is in the warehouse once every event has run: the last ingestion of each key."""

    snapshots: dict[date, list[UserRow]]
    loads: dict[datetime, list[PageviewRow]]


def hour_key(hour: datetime) -> datetime:
    return hour.replace(minute=0, second=0, microsecond=0)


def replay(events: list[Event]) -> Ingested:
    """Re-ingesting a key replaces what it contributed: the last ingestion of each key wins."""
    snapshots: dict[date, list[UserRow]] = {}
    loads: dict[datetime, list[PageviewRow]] = {}
    for kind, key, rows in events:
        if kind == "users":
            day = key.date() if isinstance(key, datetime) else key
            snapshots[day] = list(rows)
        elif kind == "pageviews":
            loads[hour_key(key)] = list(rows)
        else:
            raise ValueError(f"unknown event kind {kind!r}")
    return Ingested(snapshots, loads)


# ---------------------------------------------------------------- users


def normalise_postcode(postcode: str | None) -> str | None:
    """Collapses whitespace runs to one space, trims, upper-cases; None when nothing is left."""
    if postcode is None:
        return None
    normalised = _WHITESPACE_RUN.sub(" ", postcode).strip(" ").upper()
    return normalised or None


def user_row_is_valid(row: UserRow) -> bool:
    user_id, postcode = row
    normalised = normalise_postcode(postcode)
    return (
        user_id is not None
        and normalised is not None
        and len(normalised) <= POSTCODE_MAX_LENGTH
        and not _UNPRINTABLE.search(normalised)
    )


def conflicting_users(rows: list[UserRow]) -> set[int]:
    """Users whose valid rows in one snapshot disagree after normalisation."""
    postcodes: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        if user_row_is_valid(row):
            postcodes[row[0]].add(normalise_postcode(row[1]))
    return {user_id for user_id, seen in postcodes.items() if len(seen) > 1}


def snapshot_postcodes(rows: list[UserRow]) -> dict[int, str]:
    """The users a snapshot holds validly, with their (normalised) postcode."""
    conflicted = conflicting_users(rows)
    return {
        row[0]: normalise_postcode(row[1])
        for row in rows
        if user_row_is_valid(row) and row[0] not in conflicted
    }


def quarantined_user_rows(rows: list[UserRow]) -> list[UserRow]:
    """Invalid rows, plus every row of a user whose valid rows disagree."""
    conflicted = conflicting_users(rows)
    return [row for row in rows if not user_row_is_valid(row) or row[0] in conflicted]


def postcode_history(snapshots: dict[date, list[UserRow]]) -> dict[int, list[tuple[date, str]]]:
    """For each user, (snapshot date, postcode) for every snapshot holding them validly, by date."""
    history: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for day in sorted(snapshots):
        for user_id, postcode in snapshot_postcodes(snapshots[day]).items():
            history[user_id].append((day, postcode))
    return history


def postcode_at_view(history: list[tuple[date, str]], day: date) -> str:
    """Latest snapshot dated <= day holding the user; else their earliest; else UNKNOWN."""
    if not history:
        return UNKNOWN
    on_or_before = [postcode for snapshot_day, postcode in history if snapshot_day <= day]
    if on_or_before:
        return on_or_before[-1]
    return history[0][1]


def current_postcode(history: list[tuple[date, str]]) -> str:
    """Latest snapshot (by date) holding the user; else UNKNOWN."""
    return history[-1][1] if history else UNKNOWN


# ---------------------------------------------------------------- pageviews


def is_blank(text: str | None) -> bool:
    return text is None or _WHITESPACE_RUN.sub("", text) == ""


def pageview_row_is_valid(row: PageviewRow, load_hour: datetime, start_date: date) -> bool:
    user_id, url, viewed_at = row
    if user_id is None or is_blank(url) or len(url) > URL_MAX_LENGTH or viewed_at is None:
        return False
    start = datetime(start_date.year, start_date.month, start_date.day)
    return start <= viewed_at < hour_key(load_hour) + LOAD_WINDOW


def quarantined_pageview_rows(
    rows: list[PageviewRow], load_hour: datetime, start_date: date
) -> list[PageviewRow]:
    return [row for row in rows if not pageview_row_is_valid(row, load_hour, start_date)]


def counted_views(
    loads: dict[datetime, list[PageviewRow]], start_date: date
) -> Counter[tuple[int, str, datetime]]:
    """Each view identity counts the most times any single load holds it (valid rows only)."""
    counted: Counter[tuple[int, str, datetime]] = Counter()
    for load_hour, rows in loads.items():
        in_this_load = Counter(
            row for row in rows if pageview_row_is_valid(row, load_hour, start_date)
        )
        for identity, times in in_this_load.items():
            counted[identity] = max(counted[identity], times)
    return counted


# ---------------------------------------------------------------- the BI views


def truncate(moment: datetime, grain: str) -> datetime:
    if grain == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0)
    if grain == "daily":
        return datetime(moment.year, moment.month, moment.day)
    if grain == "monthly":
        return datetime(moment.year, moment.month, 1)
    raise ValueError(grain)


def expected_views(
    events: list[Event], start_date: date = DEFAULT_START_DATE
) -> dict[str, set[tuple[datetime, str, int]]]:
    """Every row of the six BI views, as {view name: {(period_start, postcode, pageviews)}}."""
    ingested = replay(events)
    history = postcode_history(ingested.snapshots)
    views = counted_views(ingested.loads, start_date)

    totals: dict[str, Counter[tuple[datetime, str]]] = {name: Counter() for name in VIEW_NAMES}
    for (user_id, _url, viewed_at), times in views.items():
        postcode_for = {
            "current_postcode": current_postcode(history.get(user_id, [])),
            "postcode_at_view": postcode_at_view(history.get(user_id, []), viewed_at.date()),
        }
        for question, postcode in postcode_for.items():
            for grain in ("hourly", "daily", "monthly"):
                name = f"bi.pageviews_by_{question}_{grain}"
                totals[name][(truncate(viewed_at, grain), postcode)] += times

    return {
        name: {(period, postcode, n) for (period, postcode), n in counts.items() if n}
        for name, counts in totals.items()
    }


def expected_quarantine(
    events: list[Event], start_date: date = DEFAULT_START_DATE
) -> tuple[dict[date, list[UserRow]], dict[datetime, list[PageviewRow]]]:
    """The rows each snapshot and each load must quarantine (keys with none are left out)."""
    ingested = replay(events)
    users = {day: quarantined_user_rows(rows) for day, rows in ingested.snapshots.items()}
    pageviews = {
        hour: quarantined_pageview_rows(rows, hour, start_date)
        for hour, rows in ingested.loads.items()
    }
    return (
        {day: rows for day, rows in users.items() if rows},
        {hour: rows for hour, rows in pageviews.items() if rows},
    )
