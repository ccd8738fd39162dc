"""The independent oracle: the platform's rules written out in plain Python.

Nothing here reads the pipeline's SQL or imports the platform. Given a scenario -- the
ordered list of ingestions an operator ran -- it says what every BI view must hold.

A scenario is a list of events, in the order they were ingested:

    ("users", date, [(id, postcode), ...])                       ingest-users --date DATE
    ("pageviews", hour_datetime, [(user_id, url, datetime), ...]) ingest-pageviews --hour HOUR
    ("accept", date, None)                                        accept-snapshot --date DATE

Each users or pageviews event stands for "land these rows, then ingest them under this key".
A users snapshot may be held instead of accepted (see `replay`); answers read accepted ones only.

The current-postcode answer is kept per hour and per day only for recent periods (see
`recent_from`): its hourly and daily views hold the periods from R days before the latest
accepted snapshot's date on (R is PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS); its monthly view and
all three postcode-at-view views hold all history.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

UserRow = tuple[int | None, str | None]
PageviewRow = tuple[int | None, str | None, datetime | None]
Event = tuple[str, object, list]

UNKNOWN = "UNKNOWN"
DEFAULT_START_DATE = date(2024, 1, 1)
LOAD_WINDOW = timedelta(hours=2)  # a load of hour H may hold views up to (not including) H + 2h

# Whitespace is the six ASCII whitespace characters and every character of the Unicode
# categories Zs, Zl and Zp (space, line and paragraph separators) -- not Python's str.isspace(),
# which also takes U+001C-U+001F and U+0085 (controls here, so unprintable).
ASCII_WHITESPACE = frozenset(" \t\n\r\f\v")
WHITESPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})
# A postcode is at most this long once normalised, and holds no control (Cc) or format (Cf)
# character and no U+FFFD replacement character; a url is at most URL_MAX_LENGTH long.
POSTCODE_MAX_LENGTH = 16
URL_MAX_LENGTH = 4096
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf"})
REPLACEMENT_CHARACTER = "\ufffd"

VIEW_NAMES = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in ("current_postcode", "postcode_at_view")
    for grain in ("hourly", "daily", "monthly")
)

# The current-postcode answer per hour and per day covers only the R days before the latest
# accepted snapshot's date (and every period after it); R is this variable, a whole number >= 1.
RECENT_DAYS_VARIABLE = "PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS"
DEFAULT_RECENT_DAYS = 7
WINDOWED_VIEW_NAMES = (
    "bi.pageviews_by_current_postcode_hourly",
    "bi.pageviews_by_current_postcode_daily",
)


# ---------------------------------------------------------------- replaying the operator


@dataclass
class Ingested:
    """What is in the warehouse once every event has run.

    snapshots  each date's ACCEPTED users snapshot: the only ones any answer reads
    held       each date's held snapshot, if its latest capture was held and not yet accepted
    loads      the last ingestion of each hour (a load is never held)
    exit_codes the CLI's exit code for each event, in order: 1 for a held snapshot and for an
               accept-snapshot of a date with nothing held, else 0
    """

    snapshots: dict[date, list[UserRow]]
    loads: dict[datetime, list[PageviewRow]]
    held: dict[date, list[UserRow]] = field(default_factory=dict)
    exit_codes: list[int] = field(default_factory=list)


def hour_key(hour: datetime) -> datetime:
    return hour.replace(minute=0, second=0, microsecond=0)


def _snapshot_day(key: date | datetime) -> date:
    return key.date() if isinstance(key, datetime) else key


def distinct_users(rows: list[UserRow]) -> int:
    """How many users a snapshot holds, as the shrink check counts them: distinct non-NULL ids."""
    return len({user_id for user_id, _ in rows if user_id is not None})


def hold_reason(
    rows: list[UserRow],
    day: date,
    accepted: dict[date, list[UserRow]],
    max_shrink: float | str = 1.0,
) -> str | None:
    """Why a users snapshot of DAY is held, given the ACCEPTED snapshots; None when it passes.

    Held when it is empty, or when it has more than MAX_SHRINK (a share) fewer distinct users
    than the latest accepted snapshot dated before DAY; with no such snapshot (or one holding no
    user) there is nothing to shrink from. A held snapshot is never the yardstick.
    """
    if not rows:
        return "snapshot_not_empty"
    earlier = [accepted_day for accepted_day in accepted if accepted_day < day]
    if not earlier:
        return None
    previous = distinct_users(accepted[max(earlier)])
    if previous == 0:
        return None
    shrink = Fraction(previous - distinct_users(rows), previous)
    return "snapshot_not_shrunk" if shrink > Fraction(str(max_shrink)) else None


def replay(events: list[Event], max_shrink: float | str = 1.0) -> Ingested:
    """Replays EVENTS in order, with PAGEVIEW_MAX_SNAPSHOT_SHRINK = MAX_SHRINK.

    Re-ingesting a load replaces it: the last ingestion of each hour wins. A users snapshot
    that passes (hold_reason) is accepted: it replaces the date's accepted snapshot and
    discards the date's held one. One that does not is held: it replaces the date's held
    snapshot and changes nothing else, so the date's accepted snapshot (if any) stays in use.
    ("accept", DATE, None) makes the date's held snapshot its accepted one, as it is; with
    nothing held it changes nothing (and exits 1).
    """
    snapshots: dict[date, list[UserRow]] = {}
    held: dict[date, list[UserRow]] = {}
    loads: dict[datetime, list[PageviewRow]] = {}
    exit_codes: list[int] = []
    for kind, key, rows in events:
        if kind == "users":
            day = _snapshot_day(key)
            if hold_reason(rows, day, snapshots, max_shrink) is None:
                snapshots[day] = list(rows)
                held.pop(day, None)
                exit_codes.append(0)
            else:
                held[day] = list(rows)
                exit_codes.append(1)
        elif kind == "accept":
            day = _snapshot_day(key)
            if day in held:
                snapshots[day] = held.pop(day)
                exit_codes.append(0)
            else:
                exit_codes.append(1)
        elif kind == "pageviews":
            loads[hour_key(key)] = list(rows)
            exit_codes.append(0)
        else:
            raise ValueError(f"unknown event kind {kind!r}")
    return Ingested(snapshots, loads, held, exit_codes)


def exit_code(events: list[Event], index: int = -1, max_shrink: float | str = 1.0) -> int:
    """The CLI's exit code for EVENTS[INDEX], run after the events before it."""
    return replay(events, max_shrink).exit_codes[index]


def was_held(events: list[Event], index: int = -1, max_shrink: float | str = 1.0) -> bool:
    """Whether EVENTS[INDEX] is a users snapshot held when run after the events before it."""
    return events[index][0] == "users" and exit_code(events, index, max_shrink) == 1


# ---------------------------------------------------------------- users


def is_whitespace(character: str) -> bool:
    return character in ASCII_WHITESPACE or unicodedata.category(character) in WHITESPACE_CATEGORIES


def is_unprintable(character: str) -> bool:
    return (
        character == REPLACEMENT_CHARACTER
        or unicodedata.category(character) in UNPRINTABLE_CATEGORIES
    )


def squeeze_whitespace(text: str) -> str:
    """Each run of whitespace as one space, none at either end."""
    spaced = "".join(" " if is_whitespace(character) else character for character in text)
    return " ".join(word for word in spaced.split(" ") if word)


def upper_ascii(text: str) -> str:
    """The letters a-z as A-Z; every other character (ß, ﬁ, é, ς, ı...) as it is."""
    return "".join(
        chr(ord(character) - 32) if "a" <= character <= "z" else character for character in text
    )


def normalise_postcode(postcode: str | None) -> str | None:
    """Whitespace squeezed, then ASCII letters upper-cased; None when nothing is left."""
    if postcode is None:
        return None
    return upper_ascii(squeeze_whitespace(postcode)) or None


def postcode_reason(postcode: str | None) -> str | None:
    """Why a users row with POSTCODE (and an id) is quarantined, the first that applies; None
    when it is valid (a conflict with the user's other rows aside)."""
    normalised = normalise_postcode(postcode)
    if postcode is None:
        return "missing_postcode"
    if normalised is None:
        return "blank_postcode"
    if len(normalised) > POSTCODE_MAX_LENGTH:
        return "postcode_too_long"
    if any(is_unprintable(character) for character in normalised):
        return "unprintable_postcode"
    return None


def user_row_is_valid(row: UserRow) -> bool:
    user_id, postcode = row
    return user_id is not None and postcode_reason(postcode) is None


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
    """Nothing but whitespace, or nothing (the same whitespace as postcodes')."""
    return text is None or squeeze_whitespace(text) == ""


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


def recent_days_setting() -> int:
    """R: PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS as the environment holds it now (unset or empty:
    DEFAULT_RECENT_DAYS); anything but a whole number >= 1 is an error."""
    value = os.environ.get(RECENT_DAYS_VARIABLE) or str(DEFAULT_RECENT_DAYS)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{RECENT_DAYS_VARIABLE} must be a whole number >= 1, got {value!r}")
    return int(value)


def window_start(
    accepted_days: Iterable[date | datetime], recent_days: int | None = None
) -> datetime | None:
    """recent_from for the ACCEPTED_DAYS (the dates of the snapshots built into postcode history):
    00:00 of the latest of them minus RECENT_DAYS days (None: recent_days_setting()); None when
    there is none, so nothing is windowed out.

    Only the latest date matters, whatever a snapshot changed (one changing nobody's postcode
    still counts). A date, once accepted, stays accepted (a rebuild replaces its content, a held
    re-ingest leaves it in use), so the latest date -- and the window -- never moves backwards.
    """
    days = list(accepted_days)
    if not days:
        return None
    recent_days = recent_days_setting() if recent_days is None else recent_days
    if recent_days < 1:
        raise ValueError(f"recent_days must be >= 1, got {recent_days}")
    latest = max(_snapshot_day(day) for day in days)
    return datetime(latest.year, latest.month, latest.day) - timedelta(days=recent_days)


def recent_from(
    events: list[Event], max_shrink: float | str = 1.0, recent_days: int | None = None
) -> datetime | None:
    """Where the current-postcode hourly and daily answers start after EVENTS: R days before
    00:00 of the latest ACCEPTED snapshot's date (a held one counts once accepted); None (no
    window, every period kept) while no snapshot is accepted. R is RECENT_DAYS, by default
    PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS (or 7)."""
    return window_start(replay(events, max_shrink).snapshots, recent_days)


def all_history_views(
    events: list[Event], start_date: date = DEFAULT_START_DATE, max_shrink: float | str = 1.0
) -> dict[str, set[tuple[datetime, str, int]]]:
    """The six answers over all history, no window applied: what every view would hold if every
    period were kept. Only accepted snapshots count (see `replay`)."""
    ingested = replay(events, max_shrink)
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


def apply_window(
    views: dict[str, set[tuple[datetime, str, int]]], since: datetime | None
) -> dict[str, set[tuple[datetime, str, int]]]:
    """VIEWS with the current-postcode hourly and daily rows before SINCE left out (all kept
    when SINCE is None); every other view as it is."""
    if since is None:
        return {name: set(rows) for name, rows in views.items()}
    return {
        name: {row for row in rows if row[0] >= since} if name in WINDOWED_VIEW_NAMES else set(rows)
        for name, rows in views.items()
    }


def expected_views(
    events: list[Event],
    start_date: date = DEFAULT_START_DATE,
    max_shrink: float | str = 1.0,
    recent_days: int | None = None,
) -> dict[str, set[tuple[datetime, str, int]]]:
    """Every row of the six BI views, as {view name: {(period_start, postcode, pageviews)}}.

    Only accepted snapshots count (see `replay`; MAX_SHRINK is PAGEVIEW_MAX_SNAPSHOT_SHRINK).
    The current-postcode hourly and daily views hold only the periods from `recent_from` on
    (RECENT_DAYS: PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS, default 7); the rest all history.
    """
    return apply_window(
        all_history_views(events, start_date, max_shrink),
        recent_from(events, max_shrink, recent_days),
    )


def expected_quarantine(
    events: list[Event], start_date: date = DEFAULT_START_DATE, max_shrink: float | str = 1.0
) -> tuple[dict[date, list[UserRow]], dict[datetime, list[PageviewRow]]]:
    """The rows each accepted snapshot and each load must quarantine (keys with none are left
    out); a held snapshot is applied nowhere, its quarantine included."""
    ingested = replay(events, max_shrink)
    users = {day: quarantined_user_rows(rows) for day, rows in ingested.snapshots.items()}
    pageviews = {
        hour: quarantined_pageview_rows(rows, hour, start_date)
        for hour, rows in ingested.loads.items()
    }
    return (
        {day: rows for day, rows in users.items() if rows},
        {hour: rows for hour, rows in pageviews.items() if rows},
    )
