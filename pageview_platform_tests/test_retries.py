"""Steps that write the warehouse retry transient errors (lock, IO, transaction conflict) only."""

from datetime import datetime

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance

from pageview_platform.warehouse import session
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform

HOUR = datetime(2024, 1, 2, 5)
PAGEVIEWS = [
    (1, "/a", datetime(2024, 1, 2, 5, 10)),
    (2, "/b", datetime(2024, 1, 2, 5, 20)),
    (2, "/b", datetime(2024, 1, 2, 5, 20)),
]
CAPTURE = "INSERT INTO raw.pageviews_extract"  # the capture's partition replace
MERGE = "MERGE INTO agg.pageviews_by_current_postcode_daily"  # in the merge's own transaction


def fail_once(monkeypatch: pytest.MonkeyPatch, statement: str, error: Exception) -> list[str]:
    """Makes the first statement starting with STATEMENT raise ERROR; returns each one run."""
    attempts: list[str] = []
    execute = session.execute

    def failing_execute(connection, sql, params):
        if sql.lstrip().startswith(statement):
            attempts.append(sql)
            if len(attempts) == 1:
                raise error
        return execute(connection, sql, params)

    # Every statement of every asset runs through session.execute.
    monkeypatch.setattr(session, "execute", failing_execute)
    return attempts


def step_retries() -> int:
    with DagsterInstance.get() as instance:
        [run] = instance.get_runs(limit=1)
        return len(instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY))


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        (CAPTURE, duckdb.IOException("Could not set lock on file: injected")),
        (MERGE, duckdb.TransactionException("Transaction conflict: injected")),
    ],
)
def test_transient_error_is_retried_and_the_answers_match_the_oracle(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, statement: str, error: Exception
) -> None:
    attempts = fail_once(monkeypatch, statement, error)
    platform.land_pageviews(PAGEVIEWS)
    platform.ingest_pageviews(HOUR)
    assert len(attempts) == 2
    assert step_retries() == 1
    assert platform.views() == oracle.expected_views([("pageviews", HOUR, PAGEVIEWS)])


def test_data_error_fails_the_run_at_once_and_changes_no_answer(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = fail_once(
        monkeypatch, MERGE, duckdb.ConversionException("Conversion Error: injected")
    )
    platform.land_pageviews(PAGEVIEWS)
    assert platform.ingest_pageviews(HOUR, expect_ok=False) == 1
    assert len(attempts) == 1
    assert step_retries() == 0
    assert platform.views() == oracle.expected_views([])


def test_snowflake_lock_network_and_throttling_errors_are_transient_and_data_errors_never() -> None:
    from snowflake.connector import errors

    from pageview_platform.warehouse.errors import is_transient
    from pageview_platform.warehouse.snowflake import SnowflakeLockError

    lock = "Statement has locked table 'X' in transaction 1 and this lock has not yet been released"
    assert is_transient(SnowflakeLockError(msg=lock, errno=625, sqlstate="57014"), True)
    assert is_transient(errors.OperationalError(msg="connection reset", errno=250003), True)
    assert is_transient(errors.TooManyRequests(msg="429"), True)
    assert is_transient(errors.ServiceUnavailableError(msg="503"), True)
    assert not is_transient(errors.NonRetryableTlsError(msg="untrusted certificate"), True)
    data_error = errors.ProgrammingError(msg="Numeric value 'x' is not recognized", errno=100038)
    assert not is_transient(data_error, True)
    assert not is_transient(duckdb.ConversionException("Conversion Error"), False)
    assert not is_transient(duckdb.IOException("Could not set lock on file"), True)


def test_a_snowflake_lock_wait_abort_reaches_the_step_as_a_lock_error() -> None:
    from snowflake.connector import errors

    from pageview_platform.warehouse.snowflake import SnowflakeLockError, SnowflakeSession

    class LockedCursor:
        def execute(self, sql: str, values: object) -> None:
            raise errors.ProgrammingError(
                msg="Your statement was aborted because the number of waiters for this lock"
                " exceeds the 20 statements limit",
                errno=625,
                sqlstate="57014",
            )

    class Connection:
        def cursor(self) -> LockedCursor:
            return LockedCursor()

    with pytest.raises(SnowflakeLockError):
        SnowflakeSession(Connection(), resource=None).execute_native("DELETE FROM core.t")
