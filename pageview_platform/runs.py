"""Starts Dagster runs from the command line the way the UI would, so the UI can re-execute them."""

from __future__ import annotations

import fcntl
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, Failure

from pageview_platform.assets.capture import REFUSED
from pageview_platform.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    InProcessCodeLocationOrigin,
    LoadableTargetOrigin,
    ReconstructableJob,
    ReconstructableRepository,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
    execute_run,
)
from pageview_platform.orphaned_runs import cli_process_tags, fail_orphaned_runs
from pageview_platform.settings import REPO_ROOT

# The same names as workspace.yaml, so runs started here are the UI's runs too.
CODE_LOCATION = "pageview_platform"
DEFINITIONS_MODULE = "pageview_platform.definitions"
# The module's Definitions: the function decorated with @dagster.definitions.
DEFINITIONS_ATTRIBUTE = "defs"

# The events stay in the instance and the UI; the terminal gets the ingest's summary.
_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class RunFailed(RuntimeError):
    """A Dagster run ended in failure; the message says which step and why."""


class RunRefused(RunFailed):
    """A run refused its action and changed nothing (a capture of another partition's load)."""


@dataclass(frozen=True)
class RunOutcome:
    """What an ingest reports about one run it started."""

    job_name: str
    partitions: str
    run_id: str


def ensure_dagster_home(dagster_home: Path) -> None:
    """Creates the instance folder with the platform's dagster.yaml on first use."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(Path(__file__).with_name("dagster.yaml"), config)


class RunLauncher:
    """Runs jobs of the code location in this process and records them in the Dagster instance.

    A run is recorded with the code location's origin, as the webserver records the runs it
    launches, so the UI can re-execute it. Only the job a run needs is built: loading the whole
    code location (every job's, sensor's and asset's snapshot, as the webserver does) and the
    definitions again for the run cost about 0.5 s of CPU a process.
    """

    def __init__(self, instance: DagsterInstance, location: InProcessCodeLocationOrigin) -> None:
        self._instance = instance
        self._location = location
        target = location.loadable_target_origin
        self._repository = ReconstructableRepository.for_module(
            target.module_name, DEFINITIONS_ATTRIBUTE, working_directory=target.working_directory
        )

    def run(
        self,
        job_name: str,
        first: str | None = None,
        last: str | None = None,
        ops_config: Mapping[str, object] | None = None,
    ) -> RunOutcome:
        """Runs JOB_NAME for partition FIRST, or the range FIRST..LAST in one run; an
        unpartitioned job (FIRST None) takes its ops' config instead."""
        tags: Mapping[str, str]
        if first is None:
            tags, partitions = {}, "unpartitioned"
        elif last is None or last == first:
            tags, partitions = {PARTITION_NAME_TAG: first}, first
        else:
            tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
            partitions = f"{first}...{last}"
        run_config = {**_RUN_CONFIG, "ops": dict(ops_config)} if ops_config else _RUN_CONFIG
        recon_job = self._repository.get_reconstructable_job(job_name)
        job = recon_job.get_definition()
        repository = recon_job.get_repository_definition()
        dagster_run = self._instance.create_run_for_job(
            job,
            run_config=run_config,
            tags={**job.tags, **tags, **cli_process_tags()},
            remote_job_origin=RemoteJobOrigin(
                repository_origin=RemoteRepositoryOrigin(
                    code_location_origin=self._location, repository_name=repository.name
                ),
                job_name=job_name,
            ),
            job_code_origin=recon_job.get_python_origin(),
        )
        result = execute_run(recon_job, dagster_run, self._instance)
        if not result.success:
            raise RunFailed(f"{job_name} [{partitions}] failed: {_first_failure(result)}")
        refusal = _refusal(result)
        if refusal is not None:
            raise RunRefused(f"{job_name} [{partitions}] refused, nothing changed: {refusal}")
        return RunOutcome(job_name, partitions, dagster_run.run_id)


def _refusal(result) -> str | None:
    """The reason a step of the run refused its action, if one did."""
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_OBSERVATION:
            metadata = event.asset_observation_data.asset_observation.metadata
            if REFUSED in metadata:
                return str(metadata[REFUSED].value)
    return None


# Read off the class: its module is private and may move.
_FAILURE_PREFIX = re.compile(f"^{re.escape(f'{Failure.__module__}.{Failure.__qualname__}')}: ")


def _first_failure(result) -> str:
    """The first failed blocking check, or the root cause of the first failed step, in one line."""
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed and evaluation.blocking:
                asset = evaluation.asset_key.to_user_string()
                description = " ".join((evaluation.description or "").split())
                return f"check {evaluation.check_name} on {asset}: {description}"
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            lines = [line.strip() for line in error.message.splitlines() if line.strip()]
            # A Failure's message is its class path, then the description the step wrote.
            first = _FAILURE_PREFIX.sub("", lines[0]) if lines else error.cls_name
            return f"step {event.step_key}: {first}"
    return "see the run in the Dagster UI"


@contextmanager
def run_launcher(dagster_home: Path) -> Iterator[RunLauncher]:
    """A launcher on the instance at DAGSTER_HOME, running the code location's jobs in-process."""
    ensure_dagster_home(dagster_home)
    # Dagster keeps the last job definition it reconstructed; a launcher must run the
    # definitions of the environment it was opened in (another warehouse file, another start).
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            module_name=DEFINITIONS_MODULE, working_directory=str(REPO_ROOT)
        ),
        location_name=CODE_LOCATION,
    )
    with _opened_instance(dagster_home) as instance:
        fail_orphaned_runs(instance)
        yield RunLauncher(instance, origin)


@contextmanager
def _opened_instance(dagster_home: Path) -> Iterator[DagsterInstance]:
    """The instance at DAGSTER_HOME, its SQLite storage created by one process at a time.

    Two commands started at once on a new DAGSTER_HOME would both create the tables and one
    would fail ("table secondary_indexes already exists").
    """
    with (dagster_home / ".init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = DagsterInstance.get()
        instance.get_runs(limit=1)
        instance.event_log_storage.get_maximum_record_id()
        fcntl.flock(lock, fcntl.LOCK_UN)
    with instance:
        yield instance
