"""Snowflake emulated by a fakesnow server on loopback, reached by the CLI through the real
connector: wire protocol, bindings and result decoding included, unlike fakesnow's patch mode.

fakesnow 0.12's server has two defects this platform runs into; each is patched here, on the
server side only, and test_snowflake_server.py shows each patch is still needed:
- a NULL TIMESTAMP_NTZ reaches the client as 1970-01-01 (`fakesnow.arrow.timestamp_to_sf_struct`
  builds the Arrow struct Snowflake sends timestamps in without a null mask);
- MERGE is rewritten into a CREATE TABLE AS plus updates that DuckDB refuses inside a
  transaction (harness.fake_snowflake's patch mode has the same defect and the same patch),
  and once passed through as it is, the server cannot describe its result: it runs
  `DESCRIBE MERGE ...` (`FakeSnowflakeCursor._describe_last_sql`), which DuckDB cannot parse;
  the same holds for `COMMENT ON ...` (the bi views' descriptions), whose result is a status.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from unittest import mock

import fakesnow.arrow
import fakesnow.server
import fakesnow.transforms
import pyarrow as pa
import pyarrow.compute as pc
import uvicorn
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.instance import FakeSnow
from sqlglot import exp

from pageview_platform import cli
from pageview_platform.settings import get_settings
from pageview_platform_tests.harness import (
    FAKE_SNOWFLAKE_ENV,
    FAKESNOW_NOPS,
    SnowflakePlatform,
    environment,
    platform_at,
)

# The version whose defects the patches below work around: on any other, re-examine each
# patch (test_snowflake_server.py's test_null_timestamp_needs_its_patch and
# test_merge_needs_its_patches tell whether each is still needed).
PATCHED_FAKESNOW_VERSION = "0.12.1"
LOGIN_PATH = "/session/v1/login-request"
QUERY_PATH = "/queries/v1/query-request"
REPO = Path(__file__).resolve().parent.parent

# fakesnow's own, kept so a test can put each back and see the defect.
UNPATCHED_TIMESTAMP_STRUCT = fakesnow.arrow.timestamp_to_sf_struct
UNPATCHED_MERGE = fakesnow.transforms.merge
UNPATCHED_DESCRIBE_LAST_SQL = FakeSnowflakeCursor._describe_last_sql


def _timestamp_struct_with_nulls(ts: pa.Array | pa.ChunkedArray) -> pa.StructArray:
    """fakesnow's timestamp struct, with the null mask it leaves out: without it the connector
    decodes a NULL as epoch 0, 1970-01-01 (fakesnow 0.12.1)."""
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    struct = UNPATCHED_TIMESTAMP_STRUCT(ts)
    # Its fields are declared NOT NULL: under the mask they hold 0, never a null.
    return pa.StructArray.from_arrays(
        [pc.fill_null(field, 0) for field in struct.flatten()],
        fields=list(struct.type),
        mask=ts.is_null(),
    )


def _merge_as_is(statement: exp.Expr) -> list[exp.Expr]:
    """DuckDB runs MERGE itself; fakesnow 0.12.1's rewrite writes its own catalog database in
    the same transaction as the target, which DuckDB refuses."""
    return [statement]


def _describe_last_sql(cursor: FakeSnowflakeCursor) -> list:
    """The result columns of the last statement. DuckDB cannot DESCRIBE a MERGE, whose result
    is one count of the rows it changed: the connector adds up the counts a Snowflake MERGE
    reports by name (`cursor.rowcount`), so the one count goes under one of those names."""
    if isinstance(cursor._last_transformed, exp.Merge):  # noqa: SLF001
        return [("number of rows updated", "BIGINT", "YES", None, None, None)]
    # A COMMENT ON statement's result is one status line.
    if isinstance(cursor._last_transformed, exp.Comment):  # noqa: SLF001
        return [("status", "VARCHAR", "YES", None, None, None)]
    return UNPATCHED_DESCRIBE_LAST_SQL(cursor)


@contextmanager
def emulator_patches() -> Iterator[None]:
    """The two documented fakesnow defects patched, for the duration."""
    installed = version("fakesnow")
    if installed != PATCHED_FAKESNOW_VERSION:
        raise RuntimeError(
            f"fakesnow {installed} is installed, the server patches were written for "
            f"{PATCHED_FAKESNOW_VERSION}: re-examine each one in {__file__}"
        )
    with (
        mock.patch.object(fakesnow.arrow, "timestamp_to_sf_struct", _timestamp_struct_with_nulls),
        mock.patch.object(fakesnow.transforms, "merge", _merge_as_is),
        mock.patch.object(FakeSnowflakeCursor, "_describe_last_sql", _describe_last_sql),
    ):
        yield


class _RecordingApp:
    """fakesnow's ASGI app, recording the path of every request it serves."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.paths: list[str] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self._app(scope, receive, send)


class FakeSnowServer:
    """A running fakesnow server on 127.0.0.1 and what it has been asked."""

    def __init__(self, port: int, app: _RecordingApp) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self._app = app

    @property
    def logins(self) -> int:
        return self._app.paths.count(LOGIN_PATH)

    @property
    def queries(self) -> int:
        return self._app.paths.count(QUERY_PATH)

    def environment(self) -> dict[str, str]:
        """What the platform needs to reach this server as its Snowflake account."""
        return {
            **FAKE_SNOWFLAKE_ENV,
            "SNOWFLAKE_HOST": self.host,
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }

    def connection_args(self) -> dict[str, Any]:
        """snowflake.connector.connect's arguments for a test's own session; a failed statement
        (HTTP 500) is not retried for minutes."""
        return {
            "account": "fakesnow",
            "user": "test",
            "password": "not-a-secret",
            "host": self.host,
            "port": self.port,
            "protocol": "http",
            "network_timeout": 1,
        }

    @contextmanager
    def fresh_account(self) -> Iterator[None]:
        """An empty account for the duration. The platform's connections send no fakesnow session
        parameters, so the statements fakesnow cannot run pass as no-ops for every session, as in
        harness.fake_snowflake."""
        account = FakeSnow(nop_regexes=FAKESNOW_NOPS)
        try:
            with mock.patch.object(fakesnow.server, "shared_fs", account):
                yield
        finally:
            account.duck_conn.close()


@contextmanager
def fakesnow_server() -> Iterator[FakeSnowServer]:
    """fakesnow's server app on a free loopback port, in a thread of this process, patched.

    fakesnow.server(), the function, starts the same app the same way, but the package
    attribute is rebound to the submodule `fakesnow.server` once that is imported (which the
    function does itself), so it can be called only while nothing has imported the submodule.
    """
    app = _RecordingApp(fakesnow.server.app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fakesnow server", daemon=True)
    with emulator_patches():
        thread.start()
        try:
            while thread.is_alive() and not server.started:
                time.sleep(0.05)
            if not server.started:
                raise RuntimeError("the fakesnow server did not start")
            port = server.servers[0].sockets[0].getsockname()[1]
            yield FakeSnowServer(port, app)
        finally:
            server.should_exit = True
            thread.join()


class ServerPlatform(SnowflakePlatform):
    """The CLI as its own process, reaching the emulated Snowflake only over the wire; the test
    lands and reads through the real connector too."""

    def __init__(self, config: dict[str, object], server: FakeSnowServer) -> None:
        super().__init__(config)
        self.server = server

    def cli(self, *arguments: str) -> int:
        """Runs `pageview-platform ARGUMENTS` in a subprocess; checks it logged in to the server."""
        logins = self.server.logins
        done = subprocess.run(
            [sys.executable, "-m", "pageview_platform", *arguments],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            # Shown by pytest when the test fails; an expected refusal prints here too.
            print(f"$ pageview-platform {' '.join(arguments)}\n{done.stdout}{done.stderr}")
        assert self.server.logins > logins, f"{arguments} never logged in to the fakesnow server"
        return done.returncode

    def ingest_users(self, day: date | str, *, expect_ok: bool = True) -> int:
        key = day.isoformat() if isinstance(day, date) else day
        return self._checked(expect_ok, "ingest-users", "--date", key)

    def accept_snapshot(self, day: date | str, *, expect_ok: bool = True) -> int:
        key = day.isoformat() if isinstance(day, date) else day
        return self._checked(expect_ok, "accept-snapshot", "--date", key)

    def ingest_pageviews(self, hour: datetime | str, *, expect_ok: bool = True) -> int:
        key = hour.strftime("%Y-%m-%dT%H") if isinstance(hour, datetime) else hour
        return self._checked(expect_ok, "ingest-pageviews", "--hour", key)

    def _checked(self, expect_ok: bool, *arguments: str) -> int:
        code = self.cli(*arguments)
        if expect_ok:
            assert code == 0, f"{' '.join(arguments)} exited {code}"
        return code


@contextmanager
def platform_on_server(directory: Path, server: FakeSnowServer) -> Iterator[ServerPlatform]:
    """A fresh account on SERVER, deployed by `pageview-platform deploy-schema`, and the
    platform's environment pointed at it for the duration.

    The deploy runs in this process, through the real connector all the same: a CLI process
    spends most of its 10-20 s importing, and the ingests are what the scenarios are about.
    """
    with (
        platform_at(directory),
        environment(server.environment()),
        server.fresh_account(),
    ):
        logins = server.logins
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["deploy-schema"]) == 0, "deploy-schema failed on the fakesnow server"
        assert server.logins > logins, "deploy-schema never logged in to the fakesnow server"
        config = get_settings().snowflake
        assert config is not None
        yield ServerPlatform(config.resource_config(), server)
