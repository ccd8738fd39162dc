"""Starts the Dagster webserver (and daemon) as processes on a loopback port, and stops them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pageview_platform.settings import REPO_ROOT

try:
    import requests
except ImportError:  # pragma: no cover - dagster depends on requests
    requests = None  # type: ignore[assignment]

CODE_LOCATION = "pageview_platform"
WORKSPACE = REPO_ROOT / "workspace.yaml"
BIN = Path(sys.executable).parent

_LOCATIONS_QUERY = """
query UiProcessLocations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


_DAEMON_QUERY = """
query UiProcessDaemon {
  instance { daemonHealth { daemonStatus(daemonType: "QUEUED_RUN_COORDINATOR") { healthy } } }
}
"""


class DagsterUIError(RuntimeError):
    """The webserver did not come up, or a GraphQL request returned errors."""


@dataclass
class DagsterUI:
    """A running webserver (and daemon): its address, GraphQL endpoint and log files."""

    url: str
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    request_timeout: float = 60

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Posts QUERY to the webserver's GraphQL endpoint; returns "data", raises on "errors"."""
        body = _post_json(
            f"{self.url}/graphql",
            {"query": query, "variables": variables or {}},
            self.request_timeout,
        )
        if body.get("errors"):
            raise DagsterUIError(f"GraphQL errors: {json.dumps(body['errors'])[:4000]}")
        data = body.get("data")
        if data is None:
            raise DagsterUIError(f"GraphQL answered without data: {json.dumps(body)[:4000]}")
        return data

    def logs(self, lines: int = 40) -> str:
        """The last LINES lines of each process's log, for error messages."""
        return _tail_logs(self.log_dir, lines)


def _post_json(url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    if requests is not None:
        response = requests.post(url, json=payload, timeout=timeout)
        try:
            return response.json()
        except ValueError as err:
            raise DagsterUIError(
                f"{url} answered {response.status_code}: {response.text[:2000]}"
            ) from err
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            raise DagsterUIError(f"{url} answered {err.code}: {text[:2000]}") from err


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail_logs(log_dir: Path, lines: int) -> str:
    parts = []
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name} (last {len(text)} lines) ---\n" + "\n".join(text))
    return "\n".join(parts)


def _start(
    name: str, argv: list[str], env: Mapping[str, str], log_dir: Path, stack: ExitStack
) -> subprocess.Popen[bytes]:
    log: IO[bytes] = stack.enter_context((log_dir / f"{name}.log").open("wb"))
    process = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(stop_process_group, process)
    return process


def stop_process_group(process: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM to the process group (PROCESS leads it), then SIGKILL whatever is left of it after
    GRACE seconds: a child that inherited an ignored SIGTERM would otherwise outlive us."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Children (the webserver's code server, run workers) may outlive the group's leader.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


def _location_loaded(ui: DagsterUI) -> bool:
    """True once the code location is loaded; raises if it failed to load."""
    data = ui.graphql(_LOCATIONS_QUERY)["workspaceOrError"]
    if data["__typename"] != "Workspace":
        raise DagsterUIError(f"the workspace did not load: {data.get('message')}")
    for entry in data["locationEntries"]:
        if entry["name"] != CODE_LOCATION:
            continue
        location = entry["locationOrLoadError"] or {}
        if location.get("__typename") == "PythonError":
            raise DagsterUIError(
                f"code location {CODE_LOCATION} failed to load: {location.get('message')}"
            )
        return entry["loadStatus"] == "LOADED" and location.get("__typename") is not None
    return False


def _daemon_healthy(ui: DagsterUI) -> bool:
    """True once the daemon's run queue heartbeats, so queued runs will start."""
    status = ui.graphql(_DAEMON_QUERY)["instance"]["daemonHealth"]["daemonStatus"]
    return bool(status["healthy"])


def _wait_until_ready(ui: DagsterUI, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for name, process in ui.processes.items():
            if process.poll() is not None:
                raise DagsterUIError(
                    f"{name} exited with {process.returncode} while starting\n{ui.logs()}"
                )
        try:
            if _location_loaded(ui) and ("daemon" not in ui.processes or _daemon_healthy(ui)):
                return
        except DagsterUIError as err:
            if "failed to load" in str(err):
                raise DagsterUIError(f"{err}\n{ui.logs()}") from err
            last_error = err
        except (OSError, ValueError) as err:  # not listening yet; requests' errors are OSErrors
            last_error = err
        time.sleep(0.5)
    raise DagsterUIError(
        f"the webserver at {ui.url} did not load {CODE_LOCATION}"
        f" (or the daemon did not start) within {timeout:.0f} s"
        f" (last error: {last_error})\n{ui.logs()}"
    )


@contextmanager
def dagster_ui(
    env: Mapping[str, str],
    *,
    daemon: bool = True,
    port: int | None = None,
    log_dir: Path | None = None,
    timeout: float = 120,
) -> Iterator[DagsterUI]:
    """Runs dagster-webserver (and dagster-daemon) on 127.0.0.1 with os.environ updated by ENV."""
    full_env = {**os.environ, **env}
    dagster_home = full_env.get("DAGSTER_HOME")
    if dagster_home:
        from pageview_platform.runs import ensure_dagster_home

        ensure_dagster_home(Path(dagster_home))
    port = port or free_port()
    with ExitStack() as stack:
        if log_dir is None:
            log_dir = Path(tempfile.mkdtemp(prefix="dagster-ui-logs-"))
            stack.callback(shutil.rmtree, log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        ui = DagsterUI(url=f"http://127.0.0.1:{port}", log_dir=log_dir)
        ui.processes["webserver"] = _start(
            "webserver",
            [
                str(BIN / "dagster-webserver"),
                *("-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)),
            ],
            full_env,
            log_dir,
            stack,
        )
        if daemon:
            ui.processes["daemon"] = _start(
                "daemon",
                [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
                full_env,
                log_dir,
                stack,
            )
        _wait_until_ready(ui, timeout)
        yield ui
