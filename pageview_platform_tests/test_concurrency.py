"""Two ingests in two processes at once: both finish, and the answers are the sequential ones."""

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import date, datetime

from dagster import DagsterInstance, DagsterRunStatus

from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform

USERS = [(1, "AB1 2CD"), (2, "EF3 4GH"), (3, "NE1 1AA")]
PAGEVIEWS = [
    (1, "/a", datetime(2024, 1, 2, 5, 10)),
    (2, "/b", datetime(2024, 1, 2, 5, 20)),
    (2, "/b", datetime(2024, 1, 2, 5, 20)),
    (3, "/late", datetime(2024, 1, 1, 23, 0)),
    (4, "/unknown", datetime(2024, 1, 2, 6, 1)),
]


def test_users_and_pageviews_ingests_running_at_once_agree_with_the_oracle(
    platform: Platform,
) -> None:
    platform.land_users(USERS)
    platform.land_pageviews(PAGEVIEWS)
    run_at_once(
        ["ingest-users", "--date", "2024-01-02"],
        ["ingest-pageviews", "--hour", "2024-01-02T05"],
    )
    expected = oracle.expected_views(
        [
            ("users", date(2024, 1, 2), USERS),
            ("pageviews", datetime(2024, 1, 2, 5), PAGEVIEWS),
        ]
    )
    assert platform.views() == expected


def test_two_ingests_of_the_same_load_at_once_count_each_view_once_and_never_interleave(
    platform: Platform,
) -> None:
    platform.land_pageviews(PAGEVIEWS)
    command = ["ingest-pageviews", "--hour", "2024-01-02T05"]
    run_at_once(command, command)
    assert platform.views() == oracle.expected_views(
        [("pageviews", datetime(2024, 1, 2, 5), PAGEVIEWS)]
    )
    assert platform.query("SELECT count(*) FROM ops.pageview_load_captures") == [(1,)]
    with DagsterInstance.get() as instance:
        records = instance.get_run_records(order_by="create_timestamp", ascending=True)
    assert [r.dagster_run.status for r in records] == [DagsterRunStatus.SUCCESS] * 2
    first, second = records
    # The first ingest holds the warehouse from before its run starts until after it ends.
    assert first.end_time <= second.start_time


def run_at_once(*commands: Sequence[str]) -> None:
    """Starts one CLI process per command at the same moment; each must exit 0."""
    # The processes contend for the one DuckDB file; writers wait for the lock in turn.
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "pageview_platform", *command],
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, out + err
