"""Two ingests in two processes at once: both finish, and the answers are the sequential ones."""

import os
import subprocess
import sys
from datetime import date, datetime

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
    commands = (
        ["ingest-users", "--date", "2024-01-02"],
        ["ingest-pageviews", "--hour", "2024-01-02T05"],
    )
    # Both processes contend for the one DuckDB file; writers wait for the lock in turn.
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
    expected = oracle.expected_views(
        [
            ("users", date(2024, 1, 2), USERS),
            ("pageviews", datetime(2024, 1, 2, 5), PAGEVIEWS),
        ]
    )
    assert platform.views() == expected
