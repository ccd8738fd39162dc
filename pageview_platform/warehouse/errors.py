"""Which warehouse errors are transient (retry the step) and which are not (fail it at once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Backoff, Failure, Jitter, RetryPolicy

# For the steps that write the warehouse: after the connection's own wait for a lock, up to
# three more attempts about 1, 3 and 7 seconds apart. Only transient errors reach it (see
# fail_fast_unless_transient).
WAREHOUSE_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=1, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def transient_errors(snowflake: bool) -> tuple[type[Exception], ...]:
    """The exception types that say the same write can succeed a moment later: another writer
    holds the file or won a conflict (DuckDB); a lock, the network or throttling (Snowflake).
    Data errors are never among them."""
    if snowflake:
        from snowflake.connector import errors

        from pageview_platform.warehouse.snowflake import SnowflakeLockError

        return (
            # Another transaction holds the table: the lock-wait limit or timeout (000625),
            # raised by the connector as a ProgrammingError and re-raised as this by the session.
            SnowflakeLockError,
            # The network: the connection failed or dropped, a request ran out of retries.
            errors.OperationalError,
            errors.RequestExceedMaxRetryError,
            errors.RequestTimeoutError,
            errors.GatewayTimeoutError,
            errors.BadGatewayError,
            errors.OtherHTTPRetryableError,
            # Throttling, and the service briefly unavailable.
            errors.TooManyRequests,
            errors.ServiceUnavailableError,
            errors.InternalServerError,
        )
    import duckdb

    return (duckdb.IOException, duckdb.TransactionException)


def _never_transient(snowflake: bool) -> tuple[type[Exception], ...]:
    """Subclasses of a transient type that a retry cannot fix (a TLS or certificate problem)."""
    if snowflake:
        from snowflake.connector import errors

        return (errors.NonRetryableTlsError, errors.RevocationCheckError)
    return ()


def is_transient(error: BaseException, snowflake: bool) -> bool:
    """Whether ERROR, raised by the warehouse, may not recur on a retry."""
    return isinstance(error, transient_errors(snowflake)) and not isinstance(
        error, _never_transient(snowflake)
    )


@contextmanager
def fail_fast_unless_transient(snowflake: bool) -> Iterator[None]:
    """Leaves transient warehouse errors to the step's retry policy and fails the step at once on
    any other error, which would only fail again (a data error, a refused partition range)."""
    try:
        yield
    except Failure:
        raise
    except Exception as err:
        if is_transient(err, snowflake):
            raise
        raise Failure(description=f"{type(err).__name__}: {err}", allow_retries=False) from err
