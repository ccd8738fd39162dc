"""Sensors ingest each landing load once, notice missed loads, and follow back-dated ones up."""

import json
from collections.abc import Iterator
from datetime import datetime

import dagster as dg
import pytest

from pageview_platform import automation
from pageview_platform.alerts import MISSED_LOAD, AlertSink
from pageview_platform.assets.capture import RAW_PAGEVIEWS_EXTRACT, RAW_USERS_EXTRACT
from pageview_platform.automation import (
    AFTER_USERS_CAPTURE_SENSOR,
    build_catch_up_schedule,
    capture_new_pageviews_load,
    capture_new_users_snapshot,
    update_history_after_users_capture,
)
from pageview_platform.definitions import defs
from pageview_platform.runs import ensure_dagster_home
from pageview_platform.settings import get_settings
from pageview_platform.warehouse.duckdb import DuckDBWarehouse
from pageview_platform_tests.harness import Platform

ALERTS = "SELECT kind, subject, message FROM ops.alerts ORDER BY raised_at"


def _resources() -> dict[str, object]:
    settings = get_settings()
    connection = {
        "database": str(settings.duckdb_path),
        "connection_config": settings.duckdb_connection_config,
        "start_date": settings.start_date.isoformat(),
    }
    return {"warehouse": DuckDBWarehouse(**connection), "alerts": AlertSink(**connection)}


@pytest.fixture
def instance(platform: Platform) -> Iterator[dg.DagsterInstance]:
    ensure_dagster_home(get_settings().dagster_home)
    with dg.DagsterInstance.get() as instance:
        yield instance


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=_resources())
    return sensor(context)


def _prepared(platform: Platform) -> None:
    """A first ingest creates the warehouse file the sensors read."""
    platform.land_users([(1, "AB1 2CD")])
    platform.ingest_users("2024-01-01")


def test_pageviews_sensor_requests_one_capture_per_new_load(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 5, 10))])
    platform.ingest_pageviews("2024-01-01T05")
    first = _tick(capture_new_pageviews_load, instance, None)
    assert not first.run_requests, "the load present at the first tick was captured by the CLI"

    platform.land_pageviews(
        [(1, "/b", datetime(2024, 1, 1, 6, 10)), (1, "/c", datetime(2024, 1, 1, 7, 1))]
    )
    new = _tick(capture_new_pageviews_load, instance, first.cursor)
    [request] = new.run_requests
    assert request.partition_key == "2024-01-01-06:00"

    same = _tick(capture_new_pageviews_load, instance, new.cursor)
    assert isinstance(same, dg.SkipReason)
    assert platform.query(ALERTS) == []


def test_a_first_tick_captures_the_load_nothing_captured_yet(
    platform: Platform, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new deployment (or a reset sensor) finds loads in the landing tables: the next loads
    truncate them, so a load the capture log does not hold is captured, not taken as seen."""
    _prepared(platform)
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 5, 10))])
    [request] = _tick(capture_new_pageviews_load, instance, None).run_requests
    assert request.partition_key == "2024-01-01-05:00"

    platform.land_users([(1, "AB1 2CD"), (2, "CD3 4EF")])
    monkeypatch.setattr(automation, "utcnow", lambda: datetime(2024, 1, 2, 0, 5))
    [request] = _tick(capture_new_users_snapshot, instance, None).run_requests
    assert request.partition_key == "2024-01-02"

    # The snapshot 2024-01-01's ingest captured (the users table as _prepared landed it).
    platform.land_users([(1, "AB1 2CD")])
    seen = _tick(capture_new_users_snapshot, instance, None)
    assert not seen.run_requests, "the snapshot at the first tick was captured before"
    platform.land_users([])
    empty = _tick(capture_new_users_snapshot, instance, None)
    assert not empty.run_requests, "an empty users table is an extract still running"
    assert platform.query(ALERTS) == []


def test_pageviews_sensor_alerts_on_a_missed_load(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    cursor = json.dumps({"fingerprint": "seen", "partition_key": "2024-01-01-05:00"})
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 8, 10))])
    result = _tick(capture_new_pageviews_load, instance, cursor)
    [request] = result.run_requests
    assert request.partition_key == "2024-01-01-08:00"
    [(kind, subject, message)] = platform.query(ALERTS)
    assert (kind, subject) == (MISSED_LOAD, "landing.pageviews_extract")
    assert "2024-01-01-06:00, 2024-01-01-07:00" in message


def test_users_sensor_dates_a_snapshot_by_the_nearest_midnight_and_alerts_on_a_gap(
    platform: Platform, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepared(platform)
    cursor = json.dumps({"fingerprint": "seen", "partition_key": "2024-01-03"})
    platform.land_users([(1, "AB1 2CD"), (2, "CD3 4EF")])
    # Landed ten minutes early: dated 2024-01-05, whose partition does not exist before midnight.
    monkeypatch.setattr(automation, "utcnow", lambda: datetime(2024, 1, 4, 23, 50))
    early = _tick(capture_new_users_snapshot, instance, cursor)
    assert isinstance(early, dg.SkipReason) and "2024-01-05" in (early.skip_message or "")
    monkeypatch.setattr(automation, "utcnow", lambda: datetime(2024, 1, 5, 0, 1))
    result = _tick(capture_new_users_snapshot, instance, cursor)
    [request] = result.run_requests
    assert request.partition_key == "2024-01-05"
    [(kind, subject, message)] = platform.query(ALERTS)
    assert (kind, subject) == (MISSED_LOAD, "landing.users_extract")
    assert "2024-01-04" in message

    again = _tick(capture_new_users_snapshot, instance, result.cursor)
    assert isinstance(again, dg.SkipReason)


def _success_context(
    instance: dg.DagsterInstance, sensor_name: str, run_id: str
) -> dg.RunStatusSensorContext:
    run = instance.get_run_by_id(run_id)
    [success] = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.RUN_SUCCESS
    ).records
    return dg.build_run_status_sensor_context(
        sensor_name=sensor_name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=success.event_log_entry.dagster_event,
        resources=_resources(),
    )


def _materialize_job(instance: dg.DagsterInstance, job_name: str, partition_key: str) -> str:
    job = defs().resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, partition_key=partition_key)
    assert result.success
    return result.run_id


def test_a_pageviews_load_is_ingested_in_one_run_by_the_sensor(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 5, 10))])
    first = _tick(capture_new_pageviews_load, instance, None)
    platform.land_pageviews(
        [
            (1, "/a", datetime(2024, 1, 1, 6, 10)),
            (1, "/b", datetime(2024, 1, 1, 6, 20)),
            (1, "/late", datetime(2024, 1, 1, 1, 30)),
        ]
    )
    [request] = _tick(capture_new_pageviews_load, instance, first.cursor).run_requests
    assert request.partition_key == "2024-01-01-06:00"
    run_id = _materialize_job(instance, "ingest_pageviews_load", request.partition_key)
    assert instance.get_run_by_id(run_id).is_success
    assert platform.query(
        "SELECT pageview_hour, postcode, pageviews"
        " FROM agg.pageviews_by_postcode_at_view_hourly ORDER BY ALL"
    ) == [(datetime(2024, 1, 1, 1), "AB1 2CD", 1), (datetime(2024, 1, 1, 6), "AB1 2CD", 2)]


def test_a_back_dated_users_snapshot_is_only_captured_by_the_sensor(
    platform: Platform, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepared(platform)
    platform.land_users([(1, "ZZ9 9ZZ")])
    platform.ingest_users("2024-01-03")
    monkeypatch.setattr(automation, "utcnow", lambda: datetime(2024, 1, 2, 0, 5))
    first = _tick(capture_new_users_snapshot, instance, None)
    platform.land_users([(1, "XY1 1XY")])
    [request] = _tick(capture_new_users_snapshot, instance, first.cursor).run_requests
    assert (request.partition_key, request.job_name) == ("2024-01-02", "capture_users_snapshot")


def test_finished_users_capture_is_followed_by_history_through_the_latest_snapshot(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    platform.land_users([(1, "ZZ9 9ZZ")])
    platform.ingest_users("2024-01-03")
    platform.land_users([(1, "XY1 1XY")])
    run_id = _materialize_job(instance, "capture_users_snapshot", "2024-01-02")
    request = update_history_after_users_capture(
        _success_context(instance, AFTER_USERS_CAPTURE_SENSOR, run_id)
    )
    assert request.tags["dagster/asset_partition_range_start"] == "2024-01-02"
    assert request.tags["dagster/asset_partition_range_end"] == "2024-01-03"


def test_a_held_snapshot_accepted_in_the_ui_is_followed_by_history_through_the_latest(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    platform.land_users([(1, "ZZ9 9ZZ")])
    platform.ingest_users("2024-01-03")
    platform.land_users([])
    assert platform.ingest_users("2024-01-02", expect_ok=False) == 1  # empty: held
    run_id = _materialize_job(instance, "accept_held_users_snapshot", "2024-01-02")
    request = update_history_after_users_capture(
        _success_context(instance, AFTER_USERS_CAPTURE_SENSOR, run_id)
    )
    assert request.tags["dagster/asset_partition_range_start"] == "2024-01-02"
    assert request.tags["dagster/asset_partition_range_end"] == "2024-01-03"


def test_runs_the_cli_started_are_left_to_the_cli(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    platform.land_users([(1, "ZZ9 9ZZ")])
    platform.ingest_users("2024-01-03")
    platform.land_users([(1, "XY1 1XY")])
    platform.ingest_users("2024-01-02")
    [capture] = instance.get_runs(dg.RunsFilter(job_name="capture_users_snapshot"))
    result = update_history_after_users_capture(
        _success_context(instance, AFTER_USERS_CAPTURE_SENSOR, capture.run_id)
    )
    assert isinstance(result, dg.SkipReason)


def test_a_capture_run_that_materialized_nothing_is_not_followed_up(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _prepared(platform)
    platform.land_users([(1, "ZZ9 9ZZ")])
    platform.ingest_users("2024-01-03")

    @dg.op
    def refuse(context: dg.OpExecutionContext) -> None:
        # What a refused capture leaves: an observation, no materialization, run SUCCESS.
        context.log_event(
            dg.AssetObservation(
                asset_key=RAW_USERS_EXTRACT, partition="2024-01-02", metadata={"refused": "test"}
            )
        )

    @dg.job(name="capture_users_snapshot")
    def refused_capture() -> None:
        refuse()

    result = refused_capture.execute_in_process(
        instance=instance, tags={"dagster/partition": "2024-01-02"}
    )
    assert result.success
    skipped = update_history_after_users_capture(
        _success_context(instance, AFTER_USERS_CAPTURE_SENSOR, result.run_id)
    )
    assert isinstance(skipped, dg.SkipReason)
    assert "captured no users snapshot" in skipped.skip_message


def _catch_up(instance: dg.DagsterInstance) -> list[dg.RunRequest] | dg.SkipReason:
    """A tick at 08:20 on 2024-01-01, whose window is the loads of 05:00, 06:00 and 07:00."""
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2024, 1, 1, 8, 20)
    )
    return build_catch_up_schedule(get_settings().start_date)(context)


def _two_loads_ingested(platform: Platform) -> None:
    """Loads of 05:00 and 06:00 captured and merged by the CLI; 07:00 never had a load."""
    _prepared(platform)
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 5, 10))])
    platform.ingest_pageviews("2024-01-01T05")
    platform.land_pageviews([(1, "/b", datetime(2024, 1, 1, 6, 10))])
    platform.ingest_pageviews("2024-01-01T06")


def test_catch_up_schedule_asks_for_nothing_when_every_capture_is_merged(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _two_loads_ingested(platform)
    skipped = _catch_up(instance)
    assert isinstance(skipped, dg.SkipReason), skipped
    assert "never captured 2024-01-01-07:00;" in skipped.skip_message
    assert "merged since their capture 2024-01-01-05:00, 2024-01-01-06:00;" in (
        skipped.skip_message
    )


def test_catch_up_schedule_merges_only_the_hour_whose_capture_is_newer(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _two_loads_ingested(platform)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=RAW_PAGEVIEWS_EXTRACT, partition="2024-01-01-06:00")
    )
    [request] = _catch_up(instance)
    assert request.partition_key == "2024-01-01-06:00"
    [again] = _catch_up(instance)
    assert again.run_key == request.run_key, "one capture is one run key, however many ticks"

    _materialize_job(instance, "merge_pageviews_loads", request.partition_key)
    assert isinstance(_catch_up(instance), dg.SkipReason), "the merge caught the capture up"


def test_catch_up_schedule_leaves_an_hour_to_the_run_still_on_its_way(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    _two_loads_ingested(platform)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=RAW_PAGEVIEWS_EXTRACT, partition="2024-01-01-06:00")
    )
    instance.add_run(
        dg.DagsterRun(
            job_name="ingest_pageviews_load",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2024-01-01-06:00"},
        )
    )
    skipped = _catch_up(instance)
    assert isinstance(skipped, dg.SkipReason), skipped
    assert "in a run still unfinished 2024-01-01-06:00" in skipped.skip_message


def test_catch_up_schedule_reads_a_handful_of_events_per_tick(
    platform: Platform, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_loads_ingested(platform)
    calls: list[int] = []
    fetch = dg.DagsterInstance.fetch_materializations

    def counted(
        self: dg.DagsterInstance,
        records_filter: dg.AssetKey | dg.AssetRecordsFilter,
        limit: int,
        **kwargs: object,
    ) -> dg.EventRecordsResult:
        calls.append(limit)
        return fetch(self, records_filter, limit, **kwargs)

    # The schedule's context opens its own instance from the reference, so the class is patched.
    monkeypatch.setattr(dg.DagsterInstance, "fetch_materializations", counted)
    _catch_up(instance)
    assert calls == [1] * 5, "capture and fact of 05:00 and 06:00, capture of 07:00"


def test_automation_starts_running_by_default() -> None:
    definitions = defs()
    for sensor in definitions.sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name


def test_freshness_fails_for_a_capture_that_stopped_arriving(
    platform: Platform, instance: dg.DagsterInstance
) -> None:
    platform.land_pageviews([(1, "/a", datetime(2024, 1, 1, 5, 10))])
    platform.ingest_pageviews("2024-01-01T05")
    definitions = defs()
    freshness = dg.AssetSelection.checks(
        *(
            key
            for key in definitions.resolve_asset_graph().asset_check_keys
            if key.name == "freshness_check"
        )
    )
    job = dg.Definitions(
        assets=definitions.assets,
        asset_checks=definitions.asset_checks,
        jobs=[dg.define_asset_job("freshness", selection=freshness)],
        resources=definitions.resources,
    ).resolve_job_def("freshness")
    result = job.execute_in_process(instance=instance)
    passed = {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations()}
    assert passed == {"pageviews_extract": True, "users_extract": False}
    assert {e.severity for e in result.get_asset_check_evaluations()} == {
        dg.AssetCheckSeverity.ERROR
    }
