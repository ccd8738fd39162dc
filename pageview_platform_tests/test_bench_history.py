"""The history bench synthesizes a warehouse the pipeline could have left, and a real ingest goes
on from it; never how fast either is."""

import os
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from unittest import mock

import duckdb

from pageview_platform import cli
from pageview_platform.bench.history import (
    HistoryShape,
    history_step,
    land_snapshot,
    open_warehouse,
    scratch_environment,
    scratch_settings,
    synthesize,
    verify,
)

VIEWS = tuple(
    f"bi.pageviews_by_{question}_{grain}"
    for question in ("postcode_at_view", "current_postcode")
    for grain in ("hourly", "daily", "monthly")
)
# Three days over a month's end (2024-02-28..03-01), then the snapshot of 03-02; a higher move
# share than the brief's, so some of 300 users move every night.
# One day of current-postcode hours and days (PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS): the
# synthesized history holds older ones, which the answers must drop, and the ingest moves it.
SHAPE = HistoryShape(users=300, days=3, last_day=date(2024, 3, 2), move_share=0.05, recent_days=1)
LAST_HISTORY_DAY = date(2024, 3, 1)
RECENT_FROM = datetime(2024, 2, 29)
RECENT_FROM_AFTER_INGEST = datetime(2024, 3, 1)

Version = tuple[datetime, datetime | None, bool, int, str]


def _history(con: duckdb.DuckDBPyConnection) -> dict[int, list[Version]]:
    rows = con.execute(
        "SELECT user_id, valid_from, valid_to, is_current, version_number, postcode"
        " FROM core.user_postcode_history ORDER BY user_id, valid_from"
    ).fetchall()
    versions: dict[int, list[Version]] = defaultdict(list)
    for user_id, *version in rows:
        versions[user_id].append(tuple(version))
    return versions


def _expected_answers(
    con: duckdb.DuckDBPyConnection, recent_from: datetime
) -> dict[str, set[tuple]]:
    """The six answers, recomputed in Python from the fact's views and the history's versions
    by the rules: at view, the latest version starting on or before the view, else the first;
    currently, the current version, by hour and day from RECENT_FROM on, by month always; each
    view counted once, in its hour, day and month."""
    versions = _history(con)
    counts: dict[str, Counter] = {view: Counter() for view in VIEWS}
    fact = con.execute("SELECT user_id, pageview_datetime, view_count FROM core.pageview_fact")
    for user_id, viewed_at, view_count in fact.fetchall():
        own = versions.get(user_id, [])
        started = [v for v in own if v[0] <= viewed_at]
        at_view = (started[-1] if started else own[0])[4] if own else "UNKNOWN"
        current = next((v[4] for v in own if v[2]), "UNKNOWN")
        periods = {
            "hourly": viewed_at.replace(minute=0, second=0, microsecond=0),
            "daily": datetime.combine(viewed_at.date(), datetime.min.time()),
            "monthly": datetime(viewed_at.year, viewed_at.month, 1),
        }
        for grain, period in periods.items():
            counts[f"bi.pageviews_by_postcode_at_view_{grain}"][period, at_view] += view_count
            if grain == "monthly" or period >= recent_from:
                counts[f"bi.pageviews_by_current_postcode_{grain}"][period, current] += view_count
    return {
        view: {(period, postcode, n) for (period, postcode), n in counted.items() if n}
        for view, counted in counts.items()
    }


def _answers(con: duckdb.DuckDBPyConnection) -> dict[str, set[tuple]]:
    return {
        view: set(con.execute(f"SELECT period_start, postcode, pageviews FROM {view}").fetchall())
        for view in VIEWS
    }


def _versions_from_snapshots(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    """(user, postcode, valid_from) of every version the captured snapshots imply."""
    last: dict[int, str] = {}
    versions = set()
    snapshots = con.execute(
        "SELECT snapshot_date, id, postcode FROM raw.users_extract ORDER BY snapshot_date"
    )
    for snapshot_date, user_id, postcode in snapshots.fetchall():
        if last.get(user_id) != postcode:
            versions.add((user_id, postcode, snapshot_date))
        last[user_id] = postcode
    return versions


def _check_scd2(versions: dict[int, list[Version]]) -> None:
    """Numbered from 1 in order, each closed by the next (which starts later, elsewhere), the
    last one current."""
    for user_id, own in versions.items():
        for number, (valid_from, valid_to, is_current, version_number, postcode) in enumerate(
            own, start=1
        ):
            following = own[number] if number < len(own) else None
            assert version_number == number, user_id
            assert is_current == (following is None), user_id
            assert valid_to == (following[0] if following else None), user_id
            assert following is None or (following[0] > valid_from and following[4] != postcode)


def test_synthesized_history_is_what_the_pipeline_leaves_and_ingests_on(tmp_path: Path) -> None:
    with scratch_settings(tmp_path, SHAPE.start_date) as settings:
        with open_warehouse(settings) as con:
            rows = synthesize(con, SHAPE)
            assert rows["core.pageview_fact"] == 300 * 3 * 5
            assert rows["raw.users_extract"] == 300 * 3
            history = _history(con)
            assert len(history) == 300
            assert any(len(own) > 1 for own in history.values()), "nobody moved"
            _check_scd2(history)
            assert _versions_from_snapshots(con) == {
                (user_id, version[4], version[0])
                for user_id, own in history.items()
                for version in own
            }
            answers = _answers(con)
            assert answers == _expected_answers(con, RECENT_FROM)
            assert min(answers["bi.pageviews_by_current_postcode_daily"])[0] == RECENT_FROM
            # The platform's own checks and the bench's SQL recomputation agree.
            assert not any(
                verify(con, SHAPE.start_date, LAST_HISTORY_DAY, True, RECENT_FROM).values()
            )
            movers = land_snapshot(con, SHAPE)
        assert movers > 0

        environment = {
            **scratch_environment(tmp_path, SHAPE.start_date),
            "PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS": str(SHAPE.recent_days),
        }
        with mock.patch.dict(os.environ, environment):
            assert cli.main(["ingest-users", "--date", SHAPE.last_day.isoformat()]) == 0
        step = history_step(environment)
        assert step.metadata["moved_users"] == movers
        assert "write" in step.parts
        assert "reattribute_pageviews.create_current_delta" in step.parts

        with open_warehouse(settings) as con:
            after = _history(con)
            _check_scd2(after)
            moved = {user for user, own in after.items() if own[-1][0] == datetime(2024, 3, 2)}
            assert len(moved) == movers
            answers = _answers(con)
            assert answers == _expected_answers(con, RECENT_FROM_AFTER_INGEST)
            assert min(answers["bi.pageviews_by_current_postcode_hourly"])[0] == (
                RECENT_FROM_AFTER_INGEST
            )
            assert not any(
                verify(
                    con, SHAPE.start_date, LAST_HISTORY_DAY, True, RECENT_FROM_AFTER_INGEST
                ).values()
            )
