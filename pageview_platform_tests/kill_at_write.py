"""Runs the pageview-platform CLI with every warehouse write point counted, and SIGKILLs it at one.

    python -m pageview_platform_tests.kill_at_write LOG KILL_AT CLI_ARGS...
    python -m pageview_platform_tests.kill_at_write --serve

The second form imports the platform once and then, for each JSON request line on stdin
({"env", "log", "kill_at", "args"}), forks a child that runs the first form's work and answers
with the child's exit code (-9 when it was SIGKILLed): a sweep of dozens of kills then pays
for Python and Dagster's start-up once.

A write point is a statement that writes the warehouse file (DDL, INSERT, UPDATE, DELETE, MERGE,
a temp table a script builds) or a COMMIT. Each one is appended to LOG as `kind<TAB>statement`
once it has run; at the KILL_AT-th (0: none) the process kills itself with SIGKILL right there,
so a COMMIT is killed after it is durable and any other write inside its transaction. Nothing in
production code knows about this: `duckdb.connect` is wrapped before the CLI starts.
"""

import json
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb

from pageview_platform import cli

_WRITE = re.compile(r"^(CREATE|INSERT|UPDATE|DELETE|MERGE|DROP|ALTER|COMMIT)\b", re.IGNORECASE)
_TARGET = re.compile(
    r"^(?:INSERT INTO|UPDATE|DELETE FROM|MERGE INTO|CREATE OR REPLACE TEMP TABLE)"
    r"\s+([\w.]+)",
    re.IGNORECASE,
)
# The production function each write comes through, nearest first, and the kind it makes it.
_CALLERS = {
    "deploy_schema": "deploy",
    "delete_table_slice": "io_delete",
    "run_script": "script",
    "handle_output": "io_insert",
}


def statement_text(sql: str) -> str:
    """The statement without its leading comment lines, on one line."""
    lines = [line for line in sql.strip().splitlines() if not line.lstrip().startswith("--")]
    return " ".join(" ".join(lines).split())


def statement_target(statement: str) -> str | None:
    """The table a DML statement or a temp table creation writes, lower case."""
    target = _TARGET.match(statement)
    return target.group(1).lower() if target else None


def write_kind(statement: str, frame: FrameType | None) -> str | None:
    """The kind of write point STATEMENT is, from its verb and the function that ran it."""
    if not _WRITE.match(statement):
        return None
    verb = statement.split()[0].lower()
    caller = "other"
    while frame is not None:
        if frame.f_code.co_name in _CALLERS:
            caller = _CALLERS[frame.f_code.co_name]
            break
        frame = frame.f_back
    if verb == "commit" and caller != "deploy":
        return "commit"
    if caller != "script":
        return caller
    if (statement_target(statement) or "").startswith("ops."):
        return "ops_log"
    return f"script_{'temp_table' if verb == 'create' else verb}"


class _WritePoints:
    """Counts write points into LOG and kills the process at the KILL_AT-th."""

    def __init__(self, log: Path, kill_at: int) -> None:
        self._log = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._kill_at = kill_at
        self._count = 0

    def passed(self, sql: str, frame: FrameType | None) -> None:
        statement = statement_text(sql)
        kind = write_kind(statement, frame)
        if kind is None:
            return
        self._count += 1
        os.write(self._log, f"{kind}\t{statement[:160]}\n".encode())
        if self._count == self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


class _CountingConnection:
    """A DuckDB connection that reports each statement it ran to the write-point counter."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, points: _WritePoints) -> None:
        self._connection = connection
        self._points = points

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        result = self._connection.execute(sql, *args, **kwargs)
        self._points.passed(sql, sys._getframe(1))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __enter__(self) -> "_CountingConnection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._connection.close()


def install(log: Path, kill_at: int) -> None:
    """Routes every connection the platform opens through the write-point counter."""
    points = _WritePoints(log, kill_at)
    connect = duckdb.connect

    def counting_connect(*args: Any, **kwargs: Any) -> _CountingConnection:
        return _CountingConnection(connect(*args, **kwargs), points)

    duckdb.connect = counting_connect


def serve() -> None:
    """Answers each request line with the exit code of a forked child running it."""
    # What the first ingest of a process imports, imported once before any fork.
    from pageview_platform import definitions, ingest, runs  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            os.environ.update(request["env"])
            output = os.open(f"{request['log']}.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(output, 1)
            os.dup2(output, 2)
            install(Path(request["log"]), request["kill_at"])
            code = cli.main(request["args"])
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(child, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


def main() -> int:
    if sys.argv[1:] == ["--serve"]:
        serve()
        return 0
    log, kill_at, *cli_args = sys.argv[1:]
    install(Path(log), int(kill_at))
    return cli.main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
