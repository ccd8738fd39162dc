"""The oracle scenarios with the CLI as its own process, talking to a fakesnow server on loopback
through the real Snowflake connector (SNOWFLAKE_HOST/PORT/PROTOCOL), so the wire protocol,
bindings and result decoding are exercised; fakesnow_server.py documents the emulator's patches
and the last tests here show each one is still needed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from unittest import mock

import fakesnow.arrow
import fakesnow.transforms
import pytest
import snowflake.connector
from fakesnow.cursor import FakeSnowflakeCursor
from snowflake.connector.errors import InternalServerError, ProgrammingError

from pageview_platform_tests import fakesnow_server, oracle
from pageview_platform_tests.fakesnow_server import (
    FakeSnowServer,
    ServerPlatform,
    platform_on_server,
)
from pageview_platform_tests.test_oracle_scenarios import (
    BAD_ROWS,
    HAND_BUILT,
    REINGEST,
    run_and_check,
)

pytestmark = pytest.mark.snowflake


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSnowServer]:
    # A connector patched in this process would answer in place of the server.
    assert not isinstance(snowflake.connector.connect, mock.Mock)
    with fakesnow_server.fakesnow_server() as running:
        yield running


@pytest.fixture
def platform(server: FakeSnowServer, tmp_path: Path) -> Iterator[ServerPlatform]:
    with platform_on_server(tmp_path, server) as p:
        yield p


# A users snapshot and a load of every bad pageview kind: NULL timestamps cross the wire both
# ways (a NULL pageview_datetime landed, captured and quarantined; current versions' valid_to).
NULLS: list[oracle.Event] = [BAD_ROWS[0], BAD_ROWS[2]]


def test_null_timestamps_over_the_wire_agree_with_the_oracle(platform: ServerPlatform) -> None:
    queries = platform.server.queries
    run_and_check(platform, NULLS)
    assert platform.server.queries > queries
    # What the oracle comparison covers, spelled out: a patchless server says 1970-01-01.
    quarantined = platform.query(
        "SELECT user_id, url, pageview_datetime FROM core.pageviews_quarantine"
        " WHERE reason = 'missing_pageview_datetime'"
    )
    assert quarantined == [(1, "/a", None)]
    current = platform.query(
        "SELECT user_id, valid_to FROM core.user_postcode_history WHERE is_current ORDER BY user_id"
    )
    assert current == [(user_id, None) for user_id in (1, 2, 3, 4)]


# Each CLI process costs 10-20 s on fakesnow, mostly imports: `make test-snowflake` runs these.
# The out-of-order scenario is left out: what it shows is the SQL's, not the wire's.
@pytest.mark.snowflake_extended
@pytest.mark.parametrize(
    "events",
    [
        pytest.param(BAD_ROWS, id="bad_rows"),
        pytest.param(HAND_BUILT, id="hand_built"),
        pytest.param(REINGEST, id="reingest"),
    ],
)
def test_scenario_over_the_wire_agrees_with_the_oracle(
    platform: ServerPlatform, events: list[oracle.Event]
) -> None:
    run_and_check(platform, events)


# ---------------------------------------------------------------- each patch still needed


@pytest.fixture
def connection(server: FakeSnowServer) -> Iterator[snowflake.connector.SnowflakeConnection]:
    """The test's own session on a fresh account, through the real connector."""
    with (
        server.fresh_account(),
        snowflake.connector.connect(
            **server.connection_args(), database="SCRATCH", schema="PUBLIC"
        ) as con,
    ):
        yield con


def _null_timestamp(connection: snowflake.connector.SnowflakeConnection) -> list[tuple]:
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (id INT, viewed_at TIMESTAMP_NTZ)")
    cursor.execute("INSERT INTO t VALUES (1, '2024-01-01 10:00:00'), (2, NULL)")
    return cursor.execute("SELECT id, viewed_at FROM t ORDER BY id").fetchall()


def test_null_timestamp_needs_its_patch(
    connection: snowflake.connector.SnowflakeConnection,
) -> None:
    """When this fails, fakesnow sends NULL timestamps as NULL: drop the timestamp patch."""
    with mock.patch.object(
        fakesnow.arrow, "timestamp_to_sf_struct", fakesnow_server.UNPATCHED_TIMESTAMP_STRUCT
    ):
        unpatched = _null_timestamp(connection)
    assert unpatched == [(1, datetime(2024, 1, 1, 10)), (2, datetime(1970, 1, 1))]


def test_null_timestamp_arrives_as_null(
    connection: snowflake.connector.SnowflakeConnection,
) -> None:
    assert _null_timestamp(connection) == [(1, datetime(2024, 1, 1, 10)), (2, None)]


MERGE = (
    "MERGE INTO target USING source ON target.id = source.id"
    " WHEN MATCHED THEN UPDATE SET n = source.n"
    " WHEN NOT MATCHED THEN INSERT (id, n) VALUES (source.id, source.n)"
)


def _merge_in_a_transaction(connection: snowflake.connector.SnowflakeConnection) -> int:
    """A MERGE after another write in one transaction, as every merge of the platform is."""
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE source (id INT, n INT)")
    cursor.execute("INSERT INTO source VALUES (1, 10), (2, 20)")
    cursor.execute("CREATE TABLE target (id INT, n INT)")
    cursor.execute("BEGIN TRANSACTION")
    cursor.execute("INSERT INTO target VALUES (1, 0)")
    cursor.execute(MERGE)
    merged = cursor.rowcount
    cursor.execute("COMMIT")
    assert cursor.execute("SELECT id, n FROM target ORDER BY id").fetchall() == [(1, 10), (2, 20)]
    return merged


def test_merge_needs_its_patches(
    connection: snowflake.connector.SnowflakeConnection, caplog: pytest.LogCaptureFixture
) -> None:
    """When a part of this fails, fakesnow runs that MERGE itself: drop that patch. The server
    answers the rewrite's failure with HTTP 500, its log says why; describing the MERGE it ran
    fails after the fact (the rows are merged, the client is told it failed)."""
    with (
        mock.patch.object(fakesnow.transforms, "merge", fakesnow_server.UNPATCHED_MERGE),
        pytest.raises(InternalServerError),
    ):
        _merge_in_a_transaction(connection)
    assert "a single transaction can only write to a single attached database" in caplog.text
    connection.cursor().execute("ROLLBACK")
    with (
        mock.patch.object(
            FakeSnowflakeCursor, "_describe_last_sql", fakesnow_server.UNPATCHED_DESCRIBE_LAST_SQL
        ),
        pytest.raises(ProgrammingError, match="DESCRIBE MERGE"),
    ):
        connection.cursor().execute(MERGE)


def test_merge_in_a_transaction_reports_its_rows(
    connection: snowflake.connector.SnowflakeConnection,
) -> None:
    assert _merge_in_a_transaction(connection) == 2
