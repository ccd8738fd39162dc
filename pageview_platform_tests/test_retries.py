"""Steps that write the warehouse retry transient errors (lock, IO, transaction conflict) only."""

from datetime import datetime

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance

from pageview_platform.warehouse import duckdb as warehouse
from pageview_platform.warehouse import session
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform

HOUR = datetime(2024, 1, 2, 5)
PAGEVIEWS = [
    (1, "/a", datetime(2024, 1, 2, 5, 10)),
    (2, "/b", datetime(2024, 1, 2, 5, 20)),
    (2, "/b", datetime(2024, 1, 2, 5, 20)),
]
CAPTURE = "INSERT INTO raw.pageviews_extract"  # written by the I/O manager
MERGE = "MERGE INTO agg.pageviews_by_current_postcode_hourly"  # in the merge's own transaction


def fail_once(monkeypatch: pytest.MonkeyPatch, statement: str, error: Exception) -> list[str]:
    """Makes the first statement starting with STATEMENT raise ERROR; returns each one run."""
    attempts: list[str] = []
    execute = warehouse.execute

    def failing_execute(connection, sql, params):
        if sql.lstrip().startswith(statement):
            attempts.append(sql)
            if len(attempts) == 1:
                raise error
        return execute(connection, sql, params)

    # The I/O manager runs statements through the DuckDB module, the scripts through session's.
    monkeypatch.setattr(warehouse, "execute", failing_execute)
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
