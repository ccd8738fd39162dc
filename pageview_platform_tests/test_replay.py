"""Replay of quarantined rows: after a validation rule is corrected, the rows it wrongly
rejected are re-admitted by `pageview-platform replay-quarantine` and count exactly once."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pageview_platform import cli
from pageview_platform.warehouse import duckdb as warehouse_duckdb
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform
from pageview_platform_tests.test_bad_input import assert_answers_match_oracle, run
from pageview_platform_tests.test_rules import table_contents

D1, D2 = datetime(2024, 1, 1), datetime(2024, 1, 2)
H1, H2 = D2 + timedelta(hours=10), D2 + timedelta(hours=11)
EVENTS: list[oracle.Event] = [
    ("users", D1, [(1, "A"), (-1, "NEG1"), (-2, "X"), (None, "BAD")]),
    ("users", D2, [(1, "A"), (-1, "NEG2"), (-2, "X")]),
    (
        "pageviews",
        H1,
        [
            (-1, "/a", D1 + timedelta(hours=9)),  # before the move: NEG1 at view
            (-1, "/a", H1 + timedelta(minutes=5)),
            (-1, "/a", H1 + timedelta(minutes=5)),  # a double click: two views
            (-2, "/b", H1 + timedelta(minutes=10)),
            (1, "/c", H1 + timedelta(minutes=15)),
            (None, "/x", H1 + timedelta(minutes=20)),  # rejected under any rules
            (-3, "/d", H1 + timedelta(minutes=30)),  # in no snapshot: UNKNOWN
        ],
    ),
    # The double click again in the next load, once: max over loads keeps two.
    ("pageviews", H2, [(-1, "/a", H1 + timedelta(minutes=5)), (-2, "/e", H2)]),
]
# What the shipped rule wrongly rejected: every row with a negative id.
WRONGLY_REJECTED_USERS = 4
WRONGLY_REJECTED_VIEWS = 7


def _without_negative_ids(events: list[oracle.Event]) -> list[oracle.Event]:
    return [
        (kind, key, [row for row in rows if row[0] is None or row[0] >= 0])
        for kind, key, rows in events
    ]


@pytest.fixture
def shipped_with_a_wrong_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    """Deploys validation views that also reject negative ids, as a release with a bug would."""
    sql = tmp_path / "sql"
    shutil.copytree(warehouse_duckdb.SQL_ROOT, sql)
    views = sql / "views" / "10_validation.sql"
    text = views.read_text()
    text = text.replace(
        "WHEN id IS NULL THEN 'missing_id'",
        "WHEN id IS NULL THEN 'missing_id' WHEN id < 0 THEN 'negative_id'",
    )
    text = text.replace(
        "WHEN r.user_id IS NULL THEN 'missing_user_id'",
        "WHEN r.user_id IS NULL THEN 'missing_user_id' WHEN r.user_id < 0 THEN 'negative_id'",
    )
    views.write_text(text)
    monkeypatch.setattr(warehouse_duckdb, "SQL_ROOT", sql)
    monkeypatch.setattr(warehouse_duckdb, "_deployed", set())
    return monkeypatch


def _deploy_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corrected release: the next process to open the warehouse deploys the real views."""
    monkeypatch.undo()
    monkeypatch.setattr(warehouse_duckdb, "_deployed", set())


def _replay(capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["replay-quarantine"]) == 0
    return capsys.readouterr().out


def test_replay_after_a_corrected_rule_counts_the_released_rows_exactly_once(
    platform: Platform,
    shipped_with_a_wrong_rule: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(platform, EVENTS)
    assert platform.views() == oracle.expected_views(_without_negative_ids(EVENTS))
    assert platform.query(
        "SELECT count(*) FROM core.pageviews_quarantine WHERE reason = 'negative_id'"
    ) == [(WRONGLY_REJECTED_VIEWS,)]
    capsys.readouterr()

    _deploy_the_fix(shipped_with_a_wrong_rule)
    out = _replay(capsys)
    assert (
        f"re-admitted {WRONGLY_REJECTED_USERS} users rows from 2 snapshots and"
        f" {WRONGLY_REJECTED_VIEWS} pageview rows from 2 loads"
    ) in out
    assert_answers_match_oracle(platform, EVENTS)
    replayed = platform.query(
        "SELECT reason, replayed_at, run_id FROM ops.users_quarantine_replays"
        " UNION ALL SELECT reason, replayed_at, run_id FROM ops.pageviews_quarantine_replays"
    )
    assert Counter(reason for reason, _, _ in replayed) == {
        "negative_id": WRONGLY_REJECTED_USERS + WRONGLY_REJECTED_VIEWS
    }
    assert all(replayed_at is not None and run_id for _, replayed_at, run_id in replayed)

    after_first = table_contents(platform)
    assert "nothing to replay" in _replay(capsys)
    assert table_contents(platform) == after_first
    assert_answers_match_oracle(platform, EVENTS)
    # Dagster runs of the code location, which the UI shows and can re-execute.
    with DagsterInstance.get() as instance:
        replays = [run.job_name for run in instance.get_runs() if "ingest" not in run.job_name]
    assert sorted(replays) == [
        "replay_pageviews_quarantine",
        "replay_users_quarantine",
        "update_postcode_history",
    ]


def test_replay_with_nothing_to_re_admit_changes_nothing(
    platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    run(platform, EVENTS[2:3])
    before = table_contents(platform)
    assert "nothing to replay" in _replay(capsys)
    assert table_contents(platform) == before
