"""A run whose CLI process died is marked failed, so it stops holding the run queue's one slot."""

import os
import socket
import subprocess
from pathlib import Path

import dagster as dg
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.storage.dagster_run import ACTIVE_RUN_STATUSES
from dagster._core.test_utils import create_run_for_test

from pageview_platform.automation import fail_orphaned_cli_runs
from pageview_platform.orphaned_runs import (
    PROCESS_HOST_TAG,
    PROCESS_ID_TAG,
    STARTED_BY_CLI_TAG,
    fail_orphaned_runs,
)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def cli_run(instance: DagsterInstance, pid: int, host: str | None = None) -> dg.DagsterRun:
    tags = {
        STARTED_BY_CLI_TAG: "true",
        PROCESS_HOST_TAG: host or socket.gethostname(),
        PROCESS_ID_TAG: str(pid),
    }
    return create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=tags)


def status(instance: DagsterInstance, run: dg.DagsterRun) -> DagsterRunStatus:
    return instance.get_run_by_id(run.run_id).status


def test_run_of_a_dead_process_is_marked_failed_with_the_reason(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        orphan = cli_run(instance, dead_pid())
        assert [run.run_id for run in fail_orphaned_runs(instance)] == [orphan.run_id]
        assert status(instance, orphan) == DagsterRunStatus.FAILURE
        [failure] = instance.all_logs(orphan.run_id, of_type=DagsterEventType.RUN_FAILURE)
        assert "ended without finishing it" in failure.dagster_event.message
        assert instance.get_run_records(dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES)) == []


def test_runs_of_live_processes_and_of_other_hosts_are_left_alone(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        running = cli_run(instance, os.getpid())
        elsewhere = cli_run(instance, dead_pid(), host="another-host")
        assert fail_orphaned_runs(instance) == []
        assert status(instance, running) == DagsterRunStatus.STARTED
        assert status(instance, elsewhere) == DagsterRunStatus.STARTED


def test_the_daemon_sensor_frees_the_slot_without_waiting_for_the_next_ingest(
    tmp_path: Path,
) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        orphan = cli_run(instance, dead_pid())
        fail_orphaned_cli_runs(dg.build_sensor_context(instance=instance))
        assert status(instance, orphan) == DagsterRunStatus.FAILURE
