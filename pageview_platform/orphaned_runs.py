"""The tags of runs the CLI starts in its own process, and the sweep of those whose process died.

Below the CLI: the CLI's launcher writes these tags, and the code location's sensors read them
(to leave the CLI's runs to the CLI, and to sweep the runs of dead CLI processes).
"""

from __future__ import annotations

import os
import socket

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

# Sensors leave the follow-up of these runs to the CLI that started them.
STARTED_BY_CLI_TAG = "pageview_platform/started_by_cli"
# The process executing a run started by the CLI: no launcher watches it, so when that process is
# killed the run stays STARTED, and a STARTED run holds the run queue's only slot.
PROCESS_HOST_TAG = "pageview_platform/host"
PROCESS_ID_TAG = "pageview_platform/pid"
_UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def cli_process_tags() -> dict[str, str]:
    """The tags of a run this process starts and executes itself."""
    return {
        STARTED_BY_CLI_TAG: "true",
        PROCESS_HOST_TAG: socket.gethostname(),
        PROCESS_ID_TAG: str(os.getpid()),
    }


def fail_orphaned_runs(instance: DagsterInstance) -> list[DagsterRun]:
    """Marks failed the unfinished runs started by the CLI whose process on this host is gone."""
    host = socket.gethostname()
    orphans = [
        run
        for run in instance.get_runs(
            filters=RunsFilter(statuses=_UNFINISHED, tags={STARTED_BY_CLI_TAG: "true"})
        )
        if run.tags.get(PROCESS_HOST_TAG) == host
        and run.tags.get(PROCESS_ID_TAG, "").isdigit()
        and not _process_alive(int(run.tags[PROCESS_ID_TAG]))
    ]
    for run in orphans:
        instance.report_run_failed(
            run,
            f"process {run.tags[PROCESS_ID_TAG]} on {host}, which ran this run in-process, ended"
            " without finishing it (killed or crashed); marked failed so it no longer holds the"
            " run queue. Every warehouse write is one transaction, so none is half-done: ingest"
            " the load again to finish it.",
        )
    return orphans


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a reused id errs on the side of alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
