"""The UI's own actions, through its GraphQL API against a real webserver and daemon, and
`dagster asset materialize`: none changes a captured load without the operator's confirmation.

The warehouse holds captured loads while the landing tables hold another load (a new hour's
pageviews and a new users snapshot). Each refused action must end SUCCESS without a
materialization and leave the captured rows, the six BI views, partition and check status and
the alerts as they were, save one `action_refused` alert per refused run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import PartitionKeyRange

from pageview_platform.assets.partitions import Partitions
from pageview_platform.runs import ensure_dagster_home
from pageview_platform.settings import REPO_ROOT
from pageview_platform.ui_process import DagsterUI, dagster_ui
from pageview_platform_tests.harness import VIEW_NAMES, Platform, environment, platform_at

# One webserver and daemon serve the whole module: its tests stay on one xdist worker
# (make test runs --dist loadgroup), or each worker would start its own.
pytestmark = pytest.mark.xdist_group("dagster_ui")

LOCATION = "pageview_platform"
REPOSITORY = "__repository__"
PAGEVIEWS = ["raw", "pageviews_extract"]
USERS = ["raw", "users_extract"]
# Every asset partitioned by load hour: "Materialize all" of one hourly partition.
HOURLY_ASSETS = [
    PAGEVIEWS,
    ["core", "pageviews_quarantine"],
    ["core", "pageview_fact"],
    ["agg", "pageviews_by_postcode_at_view_hourly"],
    ["agg", "pageviews_by_current_postcode_hourly"],
    ["agg", "pageviews_by_postcode_at_view_daily"],
    ["agg", "pageviews_by_postcode_at_view_monthly"],
    ["agg", "pageviews_by_current_postcode_daily"],
    ["agg", "pageviews_by_current_postcode_monthly"],
]
REFUSED = "action_refused"
# Evaluated by their own sensor on the clock, whatever the test does: left out of the comparison.
FRESHNESS_CHECK = "freshness_check"
RUN_TIMEOUT = 180
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

SNAPSHOTS = {
    "2024-01-01": [(1, "AA1 1AA"), (2, "BB2 2BB"), (3, "CC3 3CC")],
    "2024-01-02": [(1, "AA1 1AA"), (2, "DD4 4DD"), (3, "CC3 3CC"), (4, "EE5 5EE")],
}
LOADS = {
    "2024-01-01T10": [
        (1, "/a", datetime(2024, 1, 1, 10, 5)),
        (2, "/b", datetime(2024, 1, 1, 10, 30)),
    ],
    "2024-01-01T11": [
        (1, "/a", datetime(2024, 1, 1, 11, 1)),
        (3, "/c", datetime(2024, 1, 1, 11, 59)),
        (3, "/c", datetime(2024, 1, 1, 11, 59)),
    ],
    "2024-01-02T05": [
        (2, "/b", datetime(2024, 1, 2, 5, 15)),
        (4, "/d", datetime(2024, 1, 2, 5, 45)),
        (1, "/a", datetime(2024, 1, 2, 6, 2)),
    ],
    "2024-01-01T20": [(2, "/b", datetime(2024, 1, 1, 20, 40))],
    "2024-01-02T03": [(3, "/c", datetime(2024, 1, 2, 3, 0)), (4, "/d", datetime(2024, 1, 2, 4, 1))],
    "2024-01-02T06": [
        (4, "/d", datetime(2024, 1, 2, 6, 10)),
        (2, "/e", datetime(2024, 1, 2, 6, 50)),
    ],
    "2024-01-02T07": [
        (1, "/f", datetime(2024, 1, 2, 7, 5)),
        (3, "/g", datetime(2024, 1, 2, 7, 20)),
    ],
}
# Each test acts on partitions of its own, so no test's effect hides another's.
BACKFILLED_HOURS = ("2024-01-01T10", "2024-01-01T11")
MATERIALIZED_HOUR = "2024-01-01T20"
MATERIALIZED_ALL_HOUR = "2024-01-02T03"
CLI_MATERIALIZED_HOUR = "2024-01-02T05"
REEXECUTED_HOUR = "2024-01-02T06"
MATERIALIZED_DATE, CLI_MATERIALIZED_DATE = SNAPSHOTS
NEVER_CAPTURED_DATE = "2024-01-05"
# What the landing tables hold while the UI's actions are tried: loads not captured yet.
NEW_LOAD = [(1, "/h", datetime(2024, 1, 2, 9, 3)), (4, "/i", datetime(2024, 1, 2, 9, 40))]
NEW_SNAPSHOT = [(1, "ZZ9 9ZZ"), (2, "DD4 4DD"), (5, "FF6 6FF")]
# A re-extract of a captured hour (one more row): replaces it only with the operator's consent.
REEXTRACT_HOUR = "2024-01-02T07"
REEXTRACT = [*LOADS[REEXTRACT_HOUR], (2, "/j", datetime(2024, 1, 2, 7, 55))]


def hour_partition(hour: str) -> str:
    """2024-01-02T05 as the hourly partition key 2024-01-02-05:00."""
    return datetime.strptime(hour, "%Y-%m-%dT%H").strftime("%Y-%m-%d-%H:%M")


# --- GraphQL, as the UI sends it ----------------------------------------------------------

LAUNCH_RESULT = """
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on Error { message }
"""
LAUNCH_RUN = f"""
mutation LaunchRun($executionParams: ExecutionParams!) {{
  launchRun(executionParams: $executionParams) {{ {LAUNCH_RESULT} }}
}}
"""
LAUNCH_REEXECUTION = f"""
mutation Reexecute($reexecutionParams: ReexecutionParams) {{
  launchRunReexecution(reexecutionParams: $reexecutionParams) {{ {LAUNCH_RESULT} }}
}}
"""
LAUNCH_BACKFILL = """
mutation Backfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""
RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status tags { key value } }
    ... on Error { message }
  }
}
"""
RUN_EVENTS = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ExecutionStepFailureEvent { error { message } }
        ... on RunFailureEvent { pipelineFailureError: error { message } }
      }
    }
  }
}
"""
BACKFILL_STATUS = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status runs { runId status } error { message } }
    ... on Error { message }
  }
}
"""
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } } }
    ... on Error { message }
  }
}
"""
ASSET_STATUS = """
query AssetStatus {
  assetNodes {
    assetKey { path }
    jobNames
    isPartitioned
    partitionStats { numMaterialized numFailed numMaterializing }
    assetPartitionStatuses {
      __typename
      ... on TimePartitionStatuses { ranges { startKey endKey status } }
      ... on DefaultPartitionStatuses {
        materializedPartitions failedPartitions materializingPartitions
      }
    }
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks {
          name
          jobNames
          executionForLatestMaterialization { status runId }
          partitionStatuses {
            __typename
            ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            ... on AssetCheckDefaultPartitionStatuses {
              succeededPartitions failedPartitions inProgressPartitions
              skippedPartitions executionFailedPartitions
            }
          }
        }
      }
    }
  }
}
"""


def _launched_run_id(result: dict[str, Any]) -> str:
    assert result["__typename"] == "LaunchRunSuccess", f"launch refused by Dagster: {result}"
    return result["run"]["runId"]


@dataclass
class Console:
    """The operator at the UI: what its buttons send, and what its pages read."""

    ui: DagsterUI
    platform: Platform
    env: dict[str, str]

    def asset_nodes(self) -> list[dict[str, Any]]:
        return self.ui.graphql(ASSET_STATUS)["assetNodes"]

    def _job_and_checks(
        self, assets: Sequence[Sequence[str]]
    ) -> tuple[str, list[dict[str, object]]]:
        """The hidden asset job the UI launches ASSETS with, and the checks it runs with them."""
        nodes = {tuple(node["assetKey"]["path"]): node for node in self.asset_nodes()}
        selected = [nodes[tuple(asset)] for asset in assets]
        jobs = [
            name
            for name in selected[0]["jobNames"]
            if name.startswith("__ASSET_JOB") and all(name in n["jobNames"] for n in selected)
        ]
        assert jobs, f"no asset job holds all of {assets}"
        job = jobs[0]
        checks = [
            {"assetKey": {"path": node["assetKey"]["path"]}, "name": check["name"]}
            for node in selected
            if node["assetChecksOrError"]["__typename"] == "AssetChecks"
            for check in node["assetChecksOrError"]["checks"]
            if job in check["jobNames"]
        ]
        return job, checks

    def materialize(
        self,
        assets: Sequence[Sequence[str]],
        partition: str,
        run_config: dict[str, Any] | None = None,
    ) -> str:
        """The asset page's "Materialize" of one partition (or "Materialize all"): one run."""
        job, checks = self._job_and_checks(assets)
        params: dict[str, Any] = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": job,
                "assetSelection": [{"path": list(asset)} for asset in assets],
                "assetCheckSelection": checks,
            },
            "mode": "default",
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        }
        data = self.ui.graphql(LAUNCH_RUN, {"executionParams": params})
        return _launched_run_id(data["launchRun"])

    def reexecute(self, run_id: str) -> str:
        """The run page's "Re-execute all"."""
        data = self.ui.graphql(
            LAUNCH_REEXECUTION,
            {"reexecutionParams": {"parentRunId": run_id, "strategy": "ALL_STEPS"}},
        )
        return _launched_run_id(data["launchRunReexecution"])

    def backfill(self, asset: Sequence[str], partitions: Sequence[str]) -> str:
        """The partitions dialog's "Launch backfill" of several partitions of one asset."""
        data = self.ui.graphql(
            LAUNCH_BACKFILL,
            {
                "backfillParams": {
                    "partitionNames": list(partitions),
                    "assetSelection": [{"path": list(asset)}],
                    "fromFailure": False,
                    "tags": [],
                }
            },
        )
        result = data["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", f"backfill not launched: {result}"
        return result["backfillId"]

    def wait_for_run(self, run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            run = self.ui.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
            assert run["__typename"] == "Run", run
            if run["status"] in TERMINAL_RUN:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"run {run_id} still {run['status']} after {RUN_TIMEOUT} s\n{self.ui.logs()}"
                )
            time.sleep(0.5)

    def wait_for_backfill(self, backfill_id: str) -> list[dict[str, Any]]:
        """Waits until the backfill and its runs are finished; returns its runs."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            backfill = self.ui.graphql(BACKFILL_STATUS, {"backfillId": backfill_id})
            backfill = backfill["partitionBackfillOrError"]
            assert backfill["__typename"] == "PartitionBackfill", backfill
            runs = backfill["runs"]
            if backfill["status"] in TERMINAL_BACKFILL and all(
                run["status"] in TERMINAL_RUN for run in runs
            ):
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"backfill {backfill_id} still {backfill['status']} after {RUN_TIMEOUT} s:"
                    f" {runs}\n{self.ui.logs()}"
                )
            time.sleep(1)

    def run_log(self, run_id: str) -> str:
        """The run's event log messages and errors, for failure messages."""
        events = self.ui.graphql(RUN_EVENTS, {"runId": run_id})["logsForRun"]
        lines = []
        for event in events.get("events", []):
            for key in ("message", "error", "pipelineFailureError"):
                value = event.get(key)
                if isinstance(value, dict):
                    value = value.get("message")
                if value:
                    lines.append(f"{event['__typename']} {event.get('stepKey') or ''}: {value}")
        return "\n".join(lines)

    def finished_runs(self, job: str, partition: str) -> list[dict[str, Any]]:
        data = self.ui.graphql(
            RUNS,
            {
                "filter": {
                    "pipelineName": job,
                    "tags": [{"key": "dagster/partition", "value": partition}],
                    "statuses": ["SUCCESS"],
                }
            },
        )
        return data["runsOrError"]["results"]

    def state(self) -> State:
        return State.read(self)


def _read(platform: Platform, sql: str) -> list[tuple]:
    """A read-only query, retried while a run or a sensor briefly holds the file's write lock."""
    for attempt in range(40):
        try:
            return platform.query(sql)
        except duckdb.IOException:
            if attempt == 39:
                raise
            time.sleep(0.25)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class State:
    """What an action must leave as it was: the data, what the UI shows, and the alerts."""

    users: Counter[tuple]
    pageviews: Counter[tuple]
    views: dict[str, set[tuple]]
    partitions: dict[str, Any]
    checks: dict[str, Any]
    alerts: list[tuple]

    @classmethod
    def read(cls, console: Console) -> State:
        platform = console.platform
        partitions: dict[str, Any] = {}
        checks: dict[str, Any] = {}
        for node in console.asset_nodes():
            asset = "/".join(node["assetKey"]["path"])
            partitions[asset] = {
                "stats": node["partitionStats"],
                "statuses": node["assetPartitionStatuses"],
            }
            if node["assetChecksOrError"]["__typename"] != "AssetChecks":
                continue
            for check in node["assetChecksOrError"]["checks"]:
                if check["name"] == FRESHNESS_CHECK:
                    continue
                latest = check["executionForLatestMaterialization"]
                checks[f"{asset}:{check['name']}"] = {
                    "latest": latest and latest["status"],
                    "partitions": check["partitionStatuses"],
                }
        views = {name: set(_read(platform, f"SELECT * FROM {name}")) for name in VIEW_NAMES}
        return cls(
            users=Counter(_read(platform, "SELECT * FROM raw.users_extract")),
            pageviews=Counter(_read(platform, "SELECT * FROM raw.pageviews_extract")),
            views=views,
            partitions=partitions,
            checks=checks,
            alerts=_read(
                platform,
                # Freshness alerts come from the daemon's sensor ticks, whenever they fall (the
                # scratch loads are from 2024): not from an action, like the checks above.
                "SELECT raised_at, kind, subject, message, run_id FROM ops.alerts"
                " WHERE NOT (kind = 'check_failure' AND subject LIKE '%:freshness_check')"
                " ORDER BY ALL",
            ),
        )

    def new_alerts(self, before: State) -> list[tuple]:
        old = Counter(before.alerts)
        new = Counter(self.alerts) - old
        return sorted(new.elements())


def _statuses(value: Any) -> Any:
    """Partition statuses as {range: status}, so a difference names the partitions it is in."""
    if isinstance(value, dict) and "ranges" in value:
        return {f"{r['startKey']}..{r['endKey']}": r["status"] for r in value["ranges"]}
    if isinstance(value, dict):
        return {key: _statuses(item) for key, item in value.items() if key != "__typename"}
    return value


def _difference(before: Any, after: Any) -> Any:
    """The entries of two states that differ, for a readable failure."""
    before, after = _statuses(before), _statuses(after)
    if isinstance(before, Counter) and isinstance(after, Counter):
        return {"gone": list((before - after).elements()), "new": list((after - before).elements())}
    if isinstance(before, dict) and isinstance(after, dict):
        return {
            key: _difference(before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        }
    return {"before": before, "after": after}


def assert_refused_and_unchanged(
    console: Console,
    before: State,
    runs: Sequence[dict[str, Any]],
    subject: str,
) -> None:
    """Each run ended SUCCESS, and nothing but one action_refused alert per run changed."""
    for run in runs:
        assert run["status"] == "SUCCESS", (
            f"run {run['runId']} ended {run['status']}:\n{console.run_log(run['runId'])}"
        )
    after = console.state()
    problems = [
        name
        for name in ("users", "pageviews", "views", "partitions")
        if getattr(after, name) != getattr(before, name)
    ]
    if _check_changes(before.checks, after.checks):
        problems.append("checks")
    details = {
        name: _difference(getattr(before, name), getattr(after, name))
        for name in problems
        if name != "checks"
    }
    if "checks" in problems:
        details["checks"] = _check_changes(before.checks, after.checks)
    assert not problems, (
        f"changed: {problems}\n{json.dumps(details, default=str, indent=1)[:8000]}\n"
        + "\n".join(console.run_log(run["runId"]) for run in runs)
    )
    new = after.new_alerts(before)
    kinds = Counter(alert[1] for alert in new)
    assert kinds == Counter({REFUSED: len(runs)}), f"new alerts: {new}"
    assert sorted(alert[4] for alert in new) == sorted(run["runId"] for run in runs), new
    assert {alert[2] for alert in new} == {subject}, new


_PARTITIONS = Partitions.starting(date(2024, 1, 1))


def _keys(start: str, end: str) -> list[str]:
    grain = _PARTITIONS.daily if len(start) == len("2024-01-01") else _PARTITIONS.hourly
    return grain.get_partition_keys_in_range(PartitionKeyRange(start, end))


def _check_outcomes(checks: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each check's status per partition, expanded from the UI's ranges."""
    outcomes: dict[str, dict[str, str]] = {}
    for name, check in checks.items():
        statuses = check["partitions"]
        outcomes[name] = {}
        if statuses and statuses["__typename"] == "AssetCheckTimePartitionStatuses":
            for r in statuses["ranges"]:
                outcomes[name].update(dict.fromkeys(_keys(r["startKey"], r["endKey"]), r["status"]))
        outcomes[name]["latest"] = check["latest"]
    return outcomes


def _check_changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple]:
    """Every check status that changed other than to SKIPPED.

    Dagster records a check planned in a run that ended without evaluating it (its asset refused,
    so there was nothing new to judge) as SKIPPED for that partition; its earlier evaluation stays
    in the check's history. Anything else (a failure, an execution failure) is a change."""
    old, new = _check_outcomes(before), _check_outcomes(after)
    return [
        (name, key, old.get(name, {}).get(key), status)
        for name, statuses in new.items()
        for key, status in statuses.items()
        if status not in (old.get(name, {}).get(key), "SKIPPED")
    ]


# --- the scratch platform, its loads and its UI ---------------------------------------------


def _capture_loads(platform: Platform) -> None:
    """Ingests every snapshot and load through the CLI, then lands the loads not yet captured."""
    for day, rows in SNAPSHOTS.items():
        platform.land_users(rows)
        platform.ingest_users(day)
    for hour, rows in LOADS.items():
        platform.land_pageviews(rows)
        platform.ingest_pageviews(hour)
    platform.land_pageviews(NEW_LOAD)
    platform.land_users(NEW_SNAPSHOT)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Captured loads, another load in both landing tables, and the webserver and daemon."""
    scratch = tmp_path_factory.mktemp("ui_actions")
    with platform_at(scratch) as platform, environment({"PAGEVIEW_ENV": "test"}):
        env = {
            name: value
            for name, value in os.environ.items()
            if name.startswith(("PAGEVIEW_", "DAGSTER_"))
        }
        ensure_dagster_home(Path(env["DAGSTER_HOME"]))
        # The servers take seconds to start: the CLI ingests meanwhile, as it may beside `make ui`.
        with ThreadPoolExecutor(1) as pool:
            ingested = pool.submit(_capture_loads, platform)
            with dagster_ui(env, log_dir=scratch / "ui_logs") as ui:
                ingested.result()
                yield Console(ui, platform, env)


def test_the_module_runs_on_one_worker(request: pytest.FixtureRequest) -> None:
    """Under `--dist loadgroup` (make test) pytest-xdist marks each test's id with its group and
    sends the group to one worker; when a pytest release broke that (9.2), each worker started
    its own webserver and daemon, unnoticed but for the time."""
    if getattr(request.config.option, "loadgroup", False):  # set on xdist's workers
        assert request.node.nodeid.endswith("@dagster_ui"), request.node.nodeid


def test_the_scratch_platform_holds_the_captured_loads(console: Console) -> None:
    before = console.state()
    assert sum(before.pageviews.values()) == sum(len(rows) for rows in LOADS.values())
    assert sum(before.users.values()) == sum(len(rows) for rows in SNAPSHOTS.values())
    assert all(before.views.values()), before.views
    stats = before.partitions["raw/pageviews_extract"]["stats"]
    assert stats["numMaterialized"] == len(LOADS) and stats["numFailed"] == 0


def test_materialize_of_an_old_pageviews_partition_is_refused(console: Console) -> None:
    before = console.state()
    run_id = console.materialize([PAGEVIEWS], hour_partition(MATERIALIZED_HOUR))
    run = console.wait_for_run(run_id)
    assert_refused_and_unchanged(console, before, [run], "raw/pageviews_extract")


def test_materialize_of_an_old_users_date_is_refused(console: Console) -> None:
    before = console.state()
    run = console.wait_for_run(console.materialize([USERS], MATERIALIZED_DATE))
    assert_refused_and_unchanged(console, before, [run], "raw/users_extract")


def test_materialize_of_a_never_captured_date_with_a_captured_snapshot_is_refused(
    console: Console,
) -> None:
    """The landing holds a captured snapshot again: it is not the never-captured date's too."""
    console.platform.land_users(SNAPSHOTS[CLI_MATERIALIZED_DATE])
    try:
        before = console.state()
        run = console.wait_for_run(console.materialize([USERS], NEVER_CAPTURED_DATE))
        assert_refused_and_unchanged(console, before, [run], "raw/users_extract")
    finally:
        console.platform.land_users(NEW_SNAPSHOT)


def test_backfill_of_two_captured_pageviews_partitions_is_refused(console: Console) -> None:
    before = console.state()
    partitions = [hour_partition(hour) for hour in BACKFILLED_HOURS]
    runs = console.wait_for_backfill(console.backfill(PAGEVIEWS, partitions))
    assert runs, "the backfill started no run"
    assert_refused_and_unchanged(console, before, runs, "raw/pageviews_extract")


def test_reexecution_of_a_finished_ingest_run_is_refused(console: Console) -> None:
    [parent] = console.finished_runs("ingest_pageviews_load", hour_partition(REEXECUTED_HOUR))
    before = console.state()
    run = console.wait_for_run(console.reexecute(parent["runId"]))
    assert_refused_and_unchanged(console, before, [run], "raw/pageviews_extract")


def test_materialize_all_of_an_old_hourly_partition_is_refused(console: Console) -> None:
    before = console.state()
    run = console.wait_for_run(
        console.materialize(HOURLY_ASSETS, hour_partition(MATERIALIZED_ALL_HOUR))
    )
    assert_refused_and_unchanged(console, before, [run], "raw/pageviews_extract")


def _dagster_asset_materialize(console: Console, asset: str, partition: str) -> str:
    """`dagster asset materialize` from the repo, as an operator runs it; returns its run id."""
    known = {run["runId"] for run in _all_runs(console)}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            *("asset", "materialize", "-m", "pageview_platform.definitions"),
            *("--select", asset, "--partition", partition),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **console.env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    new = [run["runId"] for run in _all_runs(console) if run["runId"] not in known]
    assert len(new) == 1, f"exit {result.returncode}, runs {new}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    return new[0]


def _all_runs(console: Console) -> list[dict[str, Any]]:
    return console.ui.graphql(RUNS, {"filter": {}})["runsOrError"]["results"]


def test_dagster_asset_materialize_of_an_old_pageviews_partition_is_refused(
    console: Console,
) -> None:
    before = console.state()
    run_id = _dagster_asset_materialize(
        console, "raw/pageviews_extract", hour_partition(CLI_MATERIALIZED_HOUR)
    )
    run = console.wait_for_run(run_id)
    assert_refused_and_unchanged(console, before, [run], "raw/pageviews_extract")


def test_dagster_asset_materialize_of_an_old_users_date_is_refused(console: Console) -> None:
    before = console.state()
    run = console.wait_for_run(
        _dagster_asset_materialize(console, "raw/users_extract", CLI_MATERIALIZED_DATE)
    )
    assert_refused_and_unchanged(console, before, [run], "raw/users_extract")


def test_materialize_with_the_confirmed_fingerprint_replaces_a_captured_load(
    console: Console,
) -> None:
    """The operator's deliberate re-extract: the refusal names the fingerprint to confirm."""
    platform = console.platform
    partition = hour_partition(REEXTRACT_HOUR)
    start = datetime.strptime(REEXTRACT_HOUR, "%Y-%m-%dT%H")
    platform.land_pageviews(REEXTRACT)
    try:
        before = console.state()
        # Without the confirmation the capture is refused (the other tests say what stays as it
        # was); the refusal names the fingerprint the operator confirms.
        refused = console.wait_for_run(console.materialize([PAGEVIEWS], partition))
        assert refused["status"] == "SUCCESS", console.run_log(refused["runId"])
        refusal = console.state()
        assert refusal.pageviews == before.pageviews
        [alert] = refusal.new_alerts(before)
        assert alert[1] == REFUSED and alert[4] == refused["runId"], alert
        confirmed = re.search(r"confirm_landing_fingerprint: '([^']+)'", alert[3])
        assert confirmed, f"the refusal names no fingerprint to confirm: {alert[3]}"
        fingerprint = confirmed.group(1)

        config = {
            "ops": {
                "raw__pageviews_extract": {"config": {"confirm_landing_fingerprint": fingerprint}}
            }
        }
        run = console.wait_for_run(console.materialize([PAGEVIEWS], partition, config))
        assert run["status"] == "SUCCESS", console.run_log(run["runId"])
        captured = _read(
            platform,
            "SELECT user_id, url, pageview_datetime FROM raw.pageviews_extract"
            f" WHERE load_hour = TIMESTAMP '{start}'",
        )
        assert Counter(captured) == Counter(REEXTRACT)
        replacements = _read(
            platform,
            "SELECT asset, partition_start, new_fingerprint, run_id FROM ops.capture_replacements",
        )
        assert (
            "raw/pageviews_extract",
            start,
            fingerprint,
            run["runId"],
        ) in replacements, replacements
        after = console.state()
        stats = after.partitions["raw/pageviews_extract"]["stats"]
        assert stats == before.partitions["raw/pageviews_extract"]["stats"]
        assert {alert[1] for alert in after.new_alerts(before)} == {REFUSED}
    finally:
        platform.land_pageviews(NEW_LOAD)


HELD_DATE = "2024-01-03"


def test_a_held_snapshot_is_accepted_by_launching_its_job_in_the_ui(console: Console) -> None:
    """An empty snapshot the CLI held is accepted from the Jobs page: the
    accept_held_users_snapshot job launched for its date takes the held copy, whatever the
    landing table holds by then."""
    platform = console.platform
    platform.land_users([])
    try:
        assert platform.ingest_users(HELD_DATE, expect_ok=False) == 1
        assert _read(platform, "SELECT snapshot_date FROM ops.held_users_snapshots") == [
            (datetime(2024, 1, 3),)
        ]
    finally:
        platform.land_users(NEW_SNAPSHOT)
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": "accept_held_users_snapshot",
        },
        "mode": "default",
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": HELD_DATE}]},
    }
    run_id = _launched_run_id(
        console.ui.graphql(LAUNCH_RUN, {"executionParams": params})["launchRun"]
    )
    run = console.wait_for_run(run_id)
    assert run["status"] == "SUCCESS", console.run_log(run_id)
    assert _read(platform, "SELECT count(*) FROM ops.held_users_snapshots") == [(0,)]
    assert _read(
        platform, "SELECT snapshot_date, check_name, run_id FROM ops.users_snapshot_acceptances"
    ) == [(datetime(2024, 1, 3), "snapshot_not_empty", run_id)]
    stats = console.state().partitions["raw/users_extract"]["stats"]
    assert stats["numMaterialized"] == len(SNAPSHOTS) + 1
