"""Alerts reach the log and ops.alerts always, Slack when configured, and never crash the caller."""

import logging
import subprocess
import sys
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster_slack import SlackResource

from pageview_platform.alerts import (
    ALERT_DELIVERY_FAILED,
    CHECK_FAILURE,
    CHECK_FAILURE_SENSOR,
    MISSED_LOAD,
    RUN_FAILURE,
    RUN_FAILURE_SENSOR,
    AlertSink,
    alert_on_check_failure,
    alert_on_run_failure,
    build_alert_sensors,
)
from pageview_platform.definitions import defs
from pageview_platform.jobs import INGEST_USERS_SNAPSHOT
from pageview_platform.runs import ensure_dagster_home
from pageview_platform.settings import get_settings
from pageview_platform_tests.harness import Platform

ALERTS = "SELECT kind, subject, message, run_id FROM ops.alerts ORDER BY raised_at, kind"


def _sink(**overrides: object) -> AlertSink:
    settings = get_settings()
    return AlertSink(
        database=str(settings.duckdb_path),
        connection_config=settings.duckdb_connection_config,
        start_date=settings.start_date.isoformat(),
        **overrides,
    )


def _alert_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pageview_platform.alerts" and r.levelno == logging.ERROR
    ]


class FakeSlackClient:
    """Stands in for slack_sdk's WebClient: keeps what was posted, or fails like Slack."""

    def __init__(self, error: Exception | None = None) -> None:
        self.posted: list[dict[str, str]] = []
        self._error = error

    def chat_postMessage(self, *, channel: str, text: str) -> None:  # noqa: N802 (Slack's name)
        if self._error is not None:
            raise self._error
        self.posted.append({"channel": channel, "text": text})


def _fake_slack(monkeypatch: pytest.MonkeyPatch, client: FakeSlackClient) -> None:
    monkeypatch.setattr(SlackResource, "get_client", lambda self: client)


@pytest.fixture
def instance(platform: Platform) -> Iterator[dg.DagsterInstance]:
    """The platform's own Dagster instance (run-sharded SQLite) at DAGSTER_HOME."""
    ensure_dagster_home(get_settings().dagster_home)
    with dg.DagsterInstance.get() as instance:
        yield instance


def test_alert_without_slack_is_logged_and_recorded(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slack = FakeSlackClient()
    _fake_slack(monkeypatch, slack)
    _sink().raise_alert(MISSED_LOAD, "landing.users_extract", "no snapshot for\n2024-01-02")
    assert platform.query(ALERTS) == [
        (MISSED_LOAD, "landing.users_extract", "no snapshot for\n2024-01-02", None)
    ]
    [line] = _alert_lines(caplog)
    assert "\n" not in line
    assert MISSED_LOAD in line and "landing.users_extract" in line and "2024-01-02" in line
    assert slack.posted == []


def test_alert_with_slack_posts_one_message(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = FakeSlackClient()
    _fake_slack(monkeypatch, slack)
    _sink(slack_token="xoxb-test", slack_channel="#alerts").raise_alert(
        RUN_FAILURE, "capture_users_snapshot", "it broke", run_id="r1"
    )
    assert slack.posted == [
        {"channel": "#alerts", "text": "[run_failure] capture_users_snapshot: it broke (run r1)"}
    ]
    assert platform.query(ALERTS) == [(RUN_FAILURE, "capture_users_snapshot", "it broke", "r1")]


def test_slack_failure_is_recorded_not_raised(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _fake_slack(monkeypatch, FakeSlackClient(error=ConnectionError("slack.com unreachable")))
    _sink(slack_token="xoxb-test", slack_channel="#alerts").raise_alert(
        CHECK_FAILURE, "raw/users_extract:not_empty", "0 rows"
    )
    rows = platform.query(ALERTS)
    assert [(kind, subject) for kind, subject, _, _ in rows] == [
        (CHECK_FAILURE, "raw/users_extract:not_empty"),
        (ALERT_DELIVERY_FAILED, "raw/users_extract:not_empty"),
    ]
    assert "slack.com unreachable" in rows[1][2]
    assert len(_alert_lines(caplog)) == 2


def test_a_locked_warehouse_still_gets_the_log_line(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _sink(lock_wait_seconds=0.3)
    sink.raise_alert(MISSED_LOAD, "deploy", "first alert creates the schema")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True);"
            " sys.stdin.read()",
            str(platform.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        sink.raise_alert(MISSED_LOAD, "landing.pageviews_extract", "no load for 2024-01-01T05")
    finally:
        holder.communicate("")
    lines = _alert_lines(caplog)
    assert "no load for 2024-01-01T05" in lines[-2]
    assert "not recorded in ops.alerts" in lines[-1]
    assert [subject for _, subject, _, _ in platform.query(ALERTS)] == ["deploy"]


def test_run_failure_alert_names_the_job_partition_and_error(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    # The extract process renamed a column: the capture cannot find `id`.
    with platform._connect() as con:
        con.execute("CREATE SCHEMA landing")
        con.execute("CREATE TABLE landing.users_extract (user_id BIGINT, postcode VARCHAR)")
        con.execute("INSERT INTO landing.users_extract VALUES (1, 'AB1 2CD')")
    assert platform.ingest_users("2024-01-01", expect_ok=False) == 1
    [run] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    [failure] = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records

    alert_on_run_failure(
        dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure.event_log_entry.dagster_event,
            resources={"alerts": _sink()},
        )
    )

    [(kind, subject, message, run_id)] = platform.query(ALERTS)
    assert (kind, subject, run_id) == (RUN_FAILURE, INGEST_USERS_SNAPSHOT, run.run_id)
    assert message.startswith(f"{INGEST_USERS_SNAPSHOT} [2024-01-01] failed: step ")
    assert '"id"' in message and "\n" not in message


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2024-01-01"]))
def tiny() -> int:
    return 1


@dg.asset_check(asset=tiny)
def tiny_is_big() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"rows": 1, "minimum": 10})


@dg.asset_check(asset=tiny)
def tiny_exists() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def test_each_failed_check_is_alerted_once(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    sink = _sink()

    def tick(cursor: str | None) -> str:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"alerts": sink}
        )
        return alert_on_check_failure(context).cursor

    started = tick(None)
    result = dg.materialize(
        [tiny, tiny_is_big, tiny_exists], instance=instance, partition_key="2024-01-01"
    )
    assert result.success
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("landing_users"), check_name="arrived", passed=False
        )
    )
    # Turning the sensor on later does not replay what is already in the log: no alert written.
    assert tick(None) != started
    assert not platform.warehouse.exists()

    after = tick(started)
    rows = platform.query(ALERTS)
    assert [(kind, subject, run_id) for kind, subject, _, run_id in rows] == [
        (CHECK_FAILURE, "tiny:tiny_is_big", result.run_id),
        (CHECK_FAILURE, "landing_users:arrived", None),
    ]
    assert rows[0][2] == (
        "check tiny_is_big on tiny [2024-01-01] failed (ERROR): minimum=10, rows=1"
    )

    tick(after)
    assert len(platform.query(ALERTS)) == 2


def test_both_sensors_start_running_and_the_code_location_provides_the_sink() -> None:
    sensors = {s.name: s for s in build_alert_sensors()}
    assert set(sensors) == {RUN_FAILURE_SENSOR, CHECK_FAILURE_SENSOR}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    # A sensor's missing resource only shows when it ticks, in the daemon: check it here.
    assert isinstance(defs().resources.get("alerts"), AlertSink)
