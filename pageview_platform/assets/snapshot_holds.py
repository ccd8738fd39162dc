"""Which users snapshots are held: judged before the capture writes, so a snapshot a blocking check
stops never reaches raw.users_extract, and the date's accepted snapshot stays what history reads.

A held snapshot is kept verbatim in raw.users_extract_held (the landing table will be reloaded)
with its reasons in ops.users_snapshot_blocks, and nothing downstream reads it. It becomes the
date's snapshot only when an operator accepts it (`pageview-platform accept-snapshot`, or the
`accept_held_users_snapshot` job in the UI) or when a snapshot of the date that passes lands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pageview_platform.warehouse.session import Connection, execute, run_script, transaction
from pageview_platform.warehouse.sql import read_sql

SNAPSHOT_NOT_EMPTY = "snapshot_not_empty"
SNAPSHOT_NOT_SHRUNK = "snapshot_not_shrunk"

# The run tag of the job that accepts a held snapshot: its capture reads the held copy.
ACCEPT_HELD_TAG = "pageview_platform/accept_held_snapshot"


@dataclass(frozen=True)
class Verdict:
    """One blocking check's verdict on a snapshot, with the figures it was judged by."""

    check_name: str
    passed: bool
    reason: str | None
    metadata: Mapping[str, Any]


def not_empty(snapshot_rows: int) -> Verdict:
    """An empty snapshot is an extract that failed, not a day every user left."""
    return Verdict(
        SNAPSHOT_NOT_EMPTY,
        passed=snapshot_rows > 0,
        reason=None if snapshot_rows else "the users snapshot is empty",
        metadata={"snapshot_rows": snapshot_rows},
    )


def not_shrunk(
    users: int, previous_date: datetime | None, previous_users: int | None, max_shrink: float
) -> Verdict:
    """At most MAX_SHRINK fewer users than the latest accepted snapshot before it."""
    if previous_date is None:
        return Verdict(
            SNAPSHOT_NOT_SHRUNK,
            passed=True,
            reason=None,
            metadata={"users": users, "max_shrink": max_shrink},
        )
    previous_users = previous_users or 0
    shrink = max(previous_users - users, 0) / previous_users if previous_users else 0.0
    passed = shrink <= max_shrink
    return Verdict(
        SNAPSHOT_NOT_SHRUNK,
        passed=passed,
        reason=None
        if passed
        else f"{users} users against {previous_users} on {previous_date:%Y-%m-%d}:"
        f" {shrink:.1%} fewer, more than the {max_shrink:.1%} allowed",
        metadata={
            "users": users,
            "previous_users": previous_users,
            "previous_snapshot_date": f"{previous_date:%Y-%m-%d}",
            "shrink": round(shrink, 4),
            "max_shrink": max_shrink,
        },
    )


def judge_landing_snapshot(con: Connection, day: datetime, max_shrink: float) -> list[Verdict]:
    """The blocking checks' verdicts on the landing snapshot as the snapshot of DAY."""
    cursor = execute(con, read_sql("guards/users_snapshot_holds.sql"), {"start": day})
    names = [column[0].lower() for column in cursor.description]
    row = dict(zip(names, cursor.fetchone(), strict=True))
    previous_date = row["previous_snapshot_date"]
    return [
        not_empty(int(row["snapshot_rows"])),
        not_shrunk(
            int(row["users"]),
            previous_date,
            previous_users(con, previous_date, row["previous_users"]),
            max_shrink,
        ),
    ]


def previous_users(
    con: Connection, previous_date: datetime | None, recorded: int | None
) -> int | None:
    """The distinct users of the accepted snapshot of PREVIOUS_DATE (None: there is none): as its
    capture recorded them in ops.users_snapshot_users (RECORDED), else counted, for a snapshot
    captured before that record existed."""
    if previous_date is None or recorded is not None:
        return recorded
    (users,) = execute(
        con, read_sql("guards/snapshot_users.sql"), {"start": previous_date}
    ).fetchone()
    return users


def hold_landing_snapshot(con: Connection, day: datetime, failed: list[Verdict]) -> None:
    """Keeps the landing snapshot as DAY's held snapshot, with why, in one transaction."""
    held_at = datetime.now(UTC).replace(tzinfo=None)
    with transaction(con):
        run_script(con, read_sql("transform/hold_users_snapshot.sql"), {"start": day})
        for verdict in failed:
            execute(
                con,
                read_sql("transform/log_users_snapshot_block.sql"),
                {
                    "start": day,
                    "check_name": verdict.check_name,
                    "reason": verdict.reason or "",
                    "blocked_at": held_at,
                },
            )


def held_reasons(con: Connection, day: datetime) -> list[tuple[str, str]]:
    """(check, reason) for each check that holds the snapshot of DAY; empty when none is held."""
    return [
        (str(check), str(reason))
        for check, reason in execute(
            con, read_sql("guards/held_users_snapshot.sql"), {"start": day}
        ).fetchall()
    ]


def held_message(day: datetime, failed: list[Verdict]) -> str:
    """What the operator reads: what held the snapshot, what stays, and the two ways forward."""
    reasons = "; ".join(f"{v.check_name}: {v.reason}" for v in failed)
    return (
        f"users snapshot {day:%Y-%m-%d} held ({reasons}); nothing applied, the date's accepted"
        " snapshot (if any) stays in use. Land a complete extract and run `pageview-platform"
        f" ingest-users --date {day:%Y-%m-%d}`, or accept this one as it is with"
        f" `pageview-platform accept-snapshot --date {day:%Y-%m-%d}`"
    )
