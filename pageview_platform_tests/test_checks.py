"""Asset checks: each passes on a good partition and fails once the table is corrupted.

How one partitioned check runs alone: `materialize([asset, check],
selection=AssetSelection.checks(key), tags={"dagster/partition": key})`. Passing
`partition_key=` instead is refused ("no PartitionsDefinition shared by all the provided
assets"): Dagster looks for the partitions of a selection among its assets only, and a
check-only selection has none. The partition tag is what the UI sets, and the evaluation is
recorded for that partition.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    ExecuteInProcessResult,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from pageview_platform import checks
from pageview_platform.assets.pageviews import AT_VIEW_HOURLY, CURRENT_HOURLY
from pageview_platform.definitions import defs
from pageview_platform.settings import SettingsError, get_settings
from pageview_platform_tests.harness import Platform, platform_at

RAW_USERS = AssetKey(["raw", "users_extract"])
RAW_PAGEVIEWS = AssetKey(["raw", "pageviews_extract"])
USERS_QUARANTINE = AssetKey(["core", "users_quarantine"])
PAGEVIEWS_QUARANTINE = AssetKey(["core", "pageviews_quarantine"])
HISTORY = AssetKey(["core", "user_postcode_history"])
FACT = AssetKey(["core", "pageview_fact"])
AT_VIEW = AssetKey(AT_VIEW_HOURLY)
CURRENT = AssetKey(CURRENT_HOURLY)

DAY_1, DAY_2 = "2024-01-02", "2024-01-03"
HOUR_OF_DAY_1_LOAD = "2024-01-02-10:00"
LAST_LOAD = "2024-01-03-09:00"


def _users(day: int) -> list[tuple[int | None, str | None]]:
    """Users 1..20; users 1 and 2 move on day 2; three bad rows on day 1 only."""
    rows = [(i, f"AA{i} 1AA") for i in range(1, 21)]
    if day == 1:
        return [*rows, (None, "ZZ1 1ZZ"), (21, "  "), (22, None)]
    return [(i, "BB1 1BB" if i in (1, 2) else postcode) for i, postcode in rows] + [
        (21, "CC1 1CC"),
        (22, "CC2 2CC"),
    ]


def _build(platform: Platform) -> None:
    platform.land_users(_users(1))
    platform.ingest_users(DAY_1)
    platform.land_pageviews(
        [
            (1, "/a", datetime(2024, 1, 2, 10, 5)),
            (1, "/a", datetime(2024, 1, 2, 10, 5)),  # a double click: two views, one row
            (2, "/b", datetime(2024, 1, 2, 10, 30)),
            (99, "/c", datetime(2024, 1, 2, 10, 40)),  # in no snapshot: UNKNOWN
            (None, "/d", datetime(2024, 1, 2, 10, 50)),
            (3, " ", datetime(2024, 1, 2, 10, 20)),
        ]
    )
    platform.ingest_pageviews("2024-01-02T10")
    platform.land_users(_users(2))
    platform.ingest_users(DAY_2)
    platform.land_pageviews(
        [(1, "/e", datetime(2024, 1, 3, 9, 10)), (5, "/f", datetime(2024, 1, 3, 9, 15))]
    )
    platform.ingest_pageviews("2024-01-03T09")


# The default of PAGEVIEW_MAX_SNAPSHOT_SHRINK; the shared harness turns the check off.
PRODUCTION_SHRINK = "0.10"


@pytest.fixture(scope="module")
def good_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One warehouse built by ingesting two snapshots and two loads, copied by each test."""
    directory = tmp_path_factory.mktemp("good")
    with platform_at(directory, max_snapshot_shrink=PRODUCTION_SHRINK) as platform:
        _build(platform)
    return directory


@contextmanager
def private_copy(warehouse: Path, directory: Path) -> Iterator[Platform]:
    """A private copy of a built warehouse in DIRECTORY, so a test may corrupt its own."""
    for file in warehouse.glob("warehouse.duckdb*"):
        shutil.copy(file, directory / file.name)
    with platform_at(directory, max_snapshot_shrink=PRODUCTION_SHRINK) as p:
        yield p


@pytest.fixture
def platform(good_warehouse: Path, tmp_path: Path) -> Iterator[Platform]:
    """A private copy of the good warehouse, so each test may corrupt its own."""
    with private_copy(good_warehouse, tmp_path) as p:
        yield p


def corrupt(platform: Platform, *statements: str) -> None:
    with duckdb.connect(str(platform.warehouse)) as con:
        for statement in statements:
            con.execute(statement)


def execute_check(key: AssetCheckKey, tags: dict[str, str]) -> ExecuteInProcessResult:
    """Executes one check alone against the warehouse, for the partition(s) the tags name."""
    definitions = defs()
    check_def = next(c for c in definitions.asset_checks if key in c.check_keys)
    target = next(a for a in definitions.assets if key.asset_key in a.keys)
    return materialize(
        [target, check_def],
        selection=AssetSelection.checks(key),
        tags=tags,
        resources=definitions.resources,
        # A failed blocking check fails the run; the evaluation is what the tests look at.
        raise_on_error=False,
    )


def run_check(key: AssetCheckKey, tags: dict[str, str]) -> AssetCheckEvaluation:
    [evaluation] = execute_check(key, tags).get_asset_check_evaluations()
    return evaluation


def check_partition(key: AssetCheckKey, partition: str) -> AssetCheckEvaluation:
    evaluation = run_check(key, {PARTITION_NAME_TAG: partition})
    assert evaluation.partition == partition
    return evaluation


def metadata(evaluation: AssetCheckEvaluation) -> dict[str, object]:
    return {name: value.value for name, value in evaluation.metadata.items()}


def _key(asset: AssetKey, name: str) -> AssetCheckKey:
    return AssetCheckKey(asset, name)


# (check, partition, statements that break it there, what the failure says)
CASES = {
    "users capture vs landing": (
        _key(RAW_USERS, checks.CAPTURED_EVERY_LANDING_ROW),
        DAY_2,
        ["DELETE FROM raw.users_extract WHERE snapshot_date = '2024-01-03' AND id = 1"],
        "captured 21 rows, the landing table holds 22",
    ),
    "nightly: an at-view hour a day before the snapshot": (
        _key(HISTORY, checks.RECENT_DAYS_RECONCILED),
        DAY_2,
        [
            "UPDATE agg.pageviews_by_postcode_at_view_hourly SET pageviews = pageviews + 1"
            " WHERE pageview_hour = '2024-01-02 10:00'"
        ],
        "aggregate_hourly_totals[at_view].mismatched_hours=1",
    ),
    "nightly: a current-postcode day before the snapshot": (
        _key(HISTORY, checks.RECENT_DAYS_RECONCILED),
        DAY_2,
        [
            "UPDATE agg.pageviews_by_current_postcode_daily SET pageviews = pageviews + 1"
            " WHERE pageview_day = '2024-01-02'"
        ],
        "aggregate_rollup_totals[current].mismatched_days=1",
    ),
    "users snapshot empty": (
        _key(RAW_USERS, checks.SNAPSHOT_NOT_EMPTY),
        DAY_2,
        ["DELETE FROM raw.users_extract WHERE snapshot_date = '2024-01-03'"],
        "empty",
    ),
    "users snapshot shrunk": (
        _key(RAW_USERS, checks.SNAPSHOT_NOT_SHRUNK),
        DAY_2,
        ["DELETE FROM raw.users_extract WHERE snapshot_date = '2024-01-03' AND id > 19"],
        "19 users against 22",
    ),
    "pageviews capture vs landing": (
        _key(RAW_PAGEVIEWS, checks.CAPTURED_EVERY_LANDING_ROW),
        LAST_LOAD,
        ["DELETE FROM raw.pageviews_extract WHERE load_hour = '2024-01-03 09:00' AND user_id = 5"],
        "captured 1 rows, the landing table holds 2",
    ),
    "pageviews load under the wrong hour": (
        _key(RAW_PAGEVIEWS, checks.LOAD_IN_ITS_WINDOW),
        LAST_LOAD,
        [
            "UPDATE raw.pageviews_extract SET pageview_datetime = pageview_datetime"
            " + INTERVAL 2 HOUR WHERE load_hour = '2024-01-03 09:00'"
        ],
        "loads_outside_their_window=1",
    ),
    "users quarantine lost a row": (
        _key(USERS_QUARANTINE, checks.ACCEPTED_PLUS_QUARANTINED_IS_CAPTURED),
        DAY_1,
        ["DELETE FROM core.users_quarantine WHERE reason = 'missing_id'"],
        "20 accepted + 2 quarantined rows, but 23 captured",
    ),
    "pageviews quarantine lost a row": (
        _key(PAGEVIEWS_QUARANTINE, checks.ACCEPTED_PLUS_QUARANTINED_IS_CAPTURED),
        HOUR_OF_DAY_1_LOAD,
        ["DELETE FROM core.pageviews_quarantine WHERE reason = 'blank_url'"],
        "4 accepted + 1 quarantined rows, but 6 captured",
    ),
    "history duplicate version": (
        _key(HISTORY, checks.VERSIONS_ARE_CONSISTENT),
        DAY_2,
        [
            "INSERT INTO core.user_postcode_history"
            " SELECT * FROM core.user_postcode_history WHERE valid_from = '2024-01-03' LIMIT 1"
        ],
        "duplicate_versions=1",
    ),
    "history two current versions": (
        _key(HISTORY, checks.VERSIONS_ARE_CONSISTENT),
        DAY_2,
        ["UPDATE core.user_postcode_history SET is_current = TRUE WHERE user_id = 1"],
        "users_with_several_current=1",
    ),
    "history NULL key": (
        _key(HISTORY, checks.VERSIONS_ARE_CONSISTENT),
        DAY_2,
        [
            "ALTER TABLE core.user_postcode_history ALTER COLUMN postcode DROP NOT NULL",
            "UPDATE core.user_postcode_history SET postcode = NULL WHERE user_id = 1",
        ],
        "null_key_rows=1",
    ),
    "history version ends before it starts": (
        _key(HISTORY, checks.VERSIONS_ARE_CONSISTENT),
        DAY_1,
        [
            "UPDATE core.user_postcode_history SET valid_to = valid_from"
            " WHERE user_id = 1 AND valid_from = '2024-01-02'"
        ],
        "non_increasing_validity=1",
    ),
    "fact duplicate identity": (
        _key(FACT, checks.ONE_ROW_PER_PAGEVIEW),
        HOUR_OF_DAY_1_LOAD,
        ["INSERT INTO core.pageview_fact SELECT * FROM core.pageview_fact WHERE user_id = 2"],
        "duplicate_identities=1",
    ),
    "fact NULL key": (
        _key(FACT, checks.ONE_ROW_PER_PAGEVIEW),
        HOUR_OF_DAY_1_LOAD,
        [
            "ALTER TABLE core.pageview_fact ALTER COLUMN url DROP NOT NULL",
            "UPDATE core.pageview_fact SET url = NULL WHERE user_id = 2",
        ],
        "null_key_rows=1",
    ),
    "fact without postcode at view": (
        _key(FACT, checks.ONE_ROW_PER_PAGEVIEW),
        HOUR_OF_DAY_1_LOAD,
        [
            "ALTER TABLE core.pageview_fact ALTER COLUMN postcode_at_view DROP NOT NULL",
            "UPDATE core.pageview_fact SET postcode_at_view = NULL WHERE user_id = 2",
        ],
        "missing_postcode_rows=1",
    ),
    "at-view aggregate off the fact": (
        _key(AT_VIEW, checks.HOURLY_TOTALS_MATCH_FACT),
        HOUR_OF_DAY_1_LOAD,
        ["UPDATE agg.pageviews_by_postcode_at_view_hourly SET pageviews = pageviews + 1"],
        "mismatched_hours=1",
    ),
    "current aggregate off the fact": (
        _key(CURRENT, checks.HOURLY_TOTALS_MATCH_FACT),
        HOUR_OF_DAY_1_LOAD,
        ["DELETE FROM agg.pageviews_by_current_postcode_hourly WHERE postcode = 'UNKNOWN'"],
        "mismatched_hours=1",
    ),
    "current aggregate off the at-view one": (
        _key(CURRENT, checks.HOURLY_TOTALS_MATCH_AT_VIEW),
        HOUR_OF_DAY_1_LOAD,
        ["UPDATE agg.pageviews_by_postcode_at_view_hourly SET pageviews = pageviews + 1"],
        "mismatched_hours=1",
    ),
    "daily rollup off the hourly table": (
        _key(AT_VIEW, checks.ROLLUPS_MATCH_HOURLY),
        HOUR_OF_DAY_1_LOAD,
        ["UPDATE agg.pageviews_by_postcode_at_view_daily SET pageviews = pageviews + 1"],
        "mismatched_days=1",
    ),
    "monthly rollup off the daily one": (
        _key(CURRENT, checks.ROLLUPS_MATCH_HOURLY),
        HOUR_OF_DAY_1_LOAD,
        ["DELETE FROM agg.pageviews_by_current_postcode_monthly"],
        "mismatched_months=1",
    ),
}


@pytest.mark.parametrize(
    ("key", "partition", "statements", "reason"), CASES.values(), ids=CASES.keys()
)
def test_check_passes_on_good_partition_and_fails_on_corrupted_one(
    platform: Platform, key: AssetCheckKey, partition: str, statements: list[str], reason: str
) -> None:
    good = check_partition(key, partition)
    assert good.passed, good.description
    corrupt(platform, *statements)
    bad = check_partition(key, partition)
    assert not bad.passed
    assert reason in bad.description


# A load at midnight, at the end of a month: its window's hour before, and its day and month,
# are the previous ones. User 7 views two pages at the same instant: two pageviews, not one.
MIDNIGHT_LOAD = "2024-02-01-00:00"
BEFORE_MIDNIGHT_LOAD = "2024-01-31-23:00"


def _build_midnight(platform: Platform) -> None:
    platform.land_users([(i, f"AA{i} 1AA") for i in range(1, 9)])
    platform.ingest_users("2024-01-31")
    platform.land_pageviews(
        [
            (1, "/a", datetime(2024, 1, 31, 22, 50)),
            (2, "/b", datetime(2024, 1, 31, 23, 10)),
            (3, "/c", datetime(2024, 1, 31, 23, 40)),
            (4, "/d", datetime(2024, 2, 1, 0, 5)),  # the next hour's first minutes
        ]
    )
    platform.ingest_pageviews("2024-01-31T23")
    platform.land_pageviews(
        [
            (3, "/c", datetime(2024, 1, 31, 23, 40)),  # the previous hour's last minutes, again
            (5, "/e", datetime(2024, 1, 31, 23, 45)),  # late
            (4, "/d", datetime(2024, 2, 1, 0, 5)),
            (7, "/x", datetime(2024, 2, 1, 0, 20)),
            (7, "/y", datetime(2024, 2, 1, 0, 20)),
            (6, "/f", datetime(2024, 2, 1, 1, 5)),
        ]
    )
    platform.ingest_pageviews("2024-02-01T00")


@pytest.fixture(scope="module")
def midnight_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("midnight")
    with platform_at(directory, max_snapshot_shrink=PRODUCTION_SHRINK) as platform:
        _build_midnight(platform)
    return directory


@pytest.fixture
def midnight(midnight_warehouse: Path, tmp_path: Path) -> Iterator[Platform]:
    with private_copy(midnight_warehouse, tmp_path) as p:
        yield p


# What the midnight load's checks compare (check, statements that break it, what the failure
# says): the hours either side of the load's, both days, both months; the first day and month
# are summed apart from the later ones (aggregate_rollup_totals.sql), so each is broken once.
MIDNIGHT_CASES = {
    "identity shared by two rows": (
        _key(FACT, checks.ONE_ROW_PER_PAGEVIEW),
        ["INSERT INTO core.pageview_fact SELECT * FROM core.pageview_fact WHERE url = '/y'"],
        "duplicate_identities=1",
    ),
    "aggregate off the fact in the hour before": (
        _key(AT_VIEW, checks.HOURLY_TOTALS_MATCH_FACT),
        [
            "UPDATE agg.pageviews_by_postcode_at_view_hourly SET pageviews = pageviews + 1"
            " WHERE pageview_hour = '2024-01-31 23:00'"
        ],
        "mismatched_hours=1",
    ),
    "aggregate off the fact in the hour after": (
        _key(CURRENT, checks.HOURLY_TOTALS_MATCH_FACT),
        [
            "DELETE FROM agg.pageviews_by_current_postcode_hourly"
            " WHERE pageview_hour = '2024-02-01 01:00'"
        ],
        "mismatched_hours=1",
    ),
    "aggregates apart in the hour before": (
        _key(CURRENT, checks.HOURLY_TOTALS_MATCH_AT_VIEW),
        [
            "UPDATE agg.pageviews_by_current_postcode_hourly SET pageviews = pageviews + 1"
            " WHERE pageview_hour = '2024-01-31 23:00'"
        ],
        "mismatched_hours=1",
    ),
    "daily rollup of the day before": (
        _key(AT_VIEW, checks.ROLLUPS_MATCH_HOURLY),
        [
            "UPDATE agg.pageviews_by_postcode_at_view_daily SET pageviews = pageviews + 1"
            " WHERE pageview_day = '2024-01-31'"
        ],
        "mismatched_days=1",
    ),
    "daily rollup of the load's day": (
        _key(CURRENT, checks.ROLLUPS_MATCH_HOURLY),
        ["DELETE FROM agg.pageviews_by_current_postcode_daily WHERE pageview_day = '2024-02-01'"],
        "mismatched_days=1",
    ),
    "monthly rollup of the month before": (
        _key(CURRENT, checks.ROLLUPS_MATCH_HOURLY),
        [
            "UPDATE agg.pageviews_by_current_postcode_monthly SET pageviews = pageviews + 1"
            " WHERE pageview_month = '2024-01-01'"
        ],
        "mismatched_months=1",
    ),
    "monthly rollup of the load's month": (
        _key(AT_VIEW, checks.ROLLUPS_MATCH_HOURLY),
        [
            "UPDATE agg.pageviews_by_postcode_at_view_monthly SET pageviews = pageviews - 1"
            " WHERE pageview_month = '2024-02-01'"
        ],
        "mismatched_months=1",
    ),
}


@pytest.mark.parametrize(
    ("key", "statements", "reason"), MIDNIGHT_CASES.values(), ids=MIDNIGHT_CASES.keys()
)
def test_the_load_checks_compare_its_neighbour_hours_and_their_days_and_months(
    midnight: Platform, key: AssetCheckKey, statements: list[str], reason: str
) -> None:
    good = check_partition(key, MIDNIGHT_LOAD)
    assert good.passed, good.description
    corrupt(midnight, *statements)
    bad = check_partition(key, MIDNIGHT_LOAD)
    assert not bad.passed
    assert reason in bad.description


def test_the_identity_check_tells_two_pages_at_one_instant_from_one_pageview_twice(
    midnight: Platform,
) -> None:
    # User 7's two pages share (user_id, pageview_datetime), hence the hash the check sorts:
    # candidates, which their urls tell apart; a second copy of a row is a duplicate.
    fact = metadata(check_partition(_key(FACT, checks.ONE_ROW_PER_PAGEVIEW), MIDNIGHT_LOAD))
    assert (fact["fact_rows"], fact["duplicate_identities"]) == (3, 0)
    corrupt(
        midnight,
        "INSERT INTO core.pageview_fact SELECT * FROM core.pageview_fact WHERE user_id = 7",
    )
    fact = metadata(check_partition(_key(FACT, checks.ONE_ROW_PER_PAGEVIEW), MIDNIGHT_LOAD))
    assert (fact["fact_rows"], fact["duplicate_identities"]) == (5, 2)


def test_an_hour_two_before_the_loads_is_left_to_its_own_loads_checks(midnight: Platform) -> None:
    # A late row two hours back or more moves an hour the load's check does not sum (that
    # would read a day of the fact); the check of a load whose window holds the hour does.
    corrupt(
        midnight,
        "UPDATE agg.pageviews_by_postcode_at_view_hourly SET pageviews = pageviews + 1"
        " WHERE pageview_hour = '2024-01-31 22:00'",
    )
    key = _key(AT_VIEW, checks.HOURLY_TOTALS_MATCH_FACT)
    assert check_partition(key, MIDNIGHT_LOAD).passed
    assert "mismatched_hours=1" in check_partition(key, BEFORE_MIDNIGHT_LOAD).description


def test_the_fact_and_aggregate_checks_run_in_one_step_each_with_its_own_result(
    platform: Platform,
) -> None:
    corrupt(platform, "UPDATE agg.pageviews_by_current_postcode_daily SET pageviews = 0")
    definitions = defs()
    [group] = [
        c
        for c in definitions.asset_checks
        if _key(FACT, checks.ONE_ROW_PER_PAGEVIEW) in c.check_keys
    ]
    target = next(a for a in definitions.assets if FACT in a.keys)
    result = materialize(
        [target, group],
        selection=AssetSelection.checks(*group.check_keys),
        tags={PARTITION_NAME_TAG: HOUR_OF_DAY_1_LOAD},
        resources=definitions.resources,
        raise_on_error=False,
    )
    assert {event.step_key for event in result.get_step_success_events()} == {group.node_def.name}
    passed = {
        AssetCheckKey(e.asset_key, e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    broken = _key(CURRENT, checks.ROLLUPS_MATCH_HOURLY)
    assert passed == {key: key != broken for key in group.check_keys}


def test_every_job_runs_the_checks_of_the_assets_it_selects() -> None:
    definitions = defs()
    all_checks = {key for c in definitions.asset_checks for key in c.check_keys}
    covered = set()
    for job_name in (
        "ingest_users_snapshot",
        "capture_users_snapshot",
        "update_postcode_history",
        "ingest_pageviews_load",
        "merge_pageviews_loads",
    ):
        graph = definitions.resolve_job_def(job_name).asset_layer.asset_graph
        in_job = set(graph.asset_check_keys)
        assert in_job == {
            key
            for key in all_checks
            if key.asset_key in graph.executable_asset_keys and key.name != "freshness_check"
        }
        covered |= in_job
    # Freshness checks are the sensor's to evaluate, never a run's.
    freshness = {key for key in all_checks if key.name == "freshness_check"}
    assert freshness and not covered & freshness
    assert covered == all_checks - freshness


def test_metadata_counts_what_the_ui_shows(platform: Platform) -> None:
    users_quarantine = check_partition(
        _key(USERS_QUARANTINE, checks.ACCEPTED_PLUS_QUARANTINED_IS_CAPTURED), DAY_1
    )
    assert metadata(users_quarantine) == {
        "captured": 23,
        "accepted": 20,
        "quarantined": 3,
        "quarantined_blank_postcode": 1,
        "quarantined_missing_id": 1,
        "quarantined_missing_postcode": 1,
    }
    history = metadata(check_partition(_key(HISTORY, checks.VERSIONS_ARE_CONSISTENT), DAY_2))
    assert (history["versions"], history["users_moved"], history["new_users"]) == (4, 2, 2)
    fact = metadata(check_partition(_key(FACT, checks.ONE_ROW_PER_PAGEVIEW), HOUR_OF_DAY_1_LOAD))
    assert (fact["fact_rows"], fact["approx_distinct_users"], fact["views"]) == (3, 3, 4)
    assert fact["unknown_postcode_rows"] == 1
    shrink = metadata(check_partition(_key(RAW_USERS, checks.SNAPSHOT_NOT_SHRUNK), DAY_2))
    assert shrink == {
        "users": 22,
        "previous_users": 22,
        "previous_snapshot_date": DAY_1,
        "shrink": 0.0,
        "max_shrink": 0.1,
    }


def test_a_range_run_checks_the_whole_range_in_one_unpartitioned_evaluation(
    platform: Platform,
) -> None:
    evaluation = run_check(
        _key(FACT, checks.ONE_ROW_PER_PAGEVIEW),
        {
            ASSET_PARTITION_RANGE_START_TAG: HOUR_OF_DAY_1_LOAD,
            ASSET_PARTITION_RANGE_END_TAG: LAST_LOAD,
        },
    )
    assert evaluation.passed
    # Dagster 1.13 keeps no partition on a range run's result: one verdict for the range.
    assert evaluation.partition is None
    assert metadata(evaluation)["fact_rows"] == 5


def test_capture_checks_refuse_a_range(platform: Platform) -> None:
    range_tags = {ASSET_PARTITION_RANGE_START_TAG: DAY_1, ASSET_PARTITION_RANGE_END_TAG: DAY_2}
    result = execute_check(_key(RAW_USERS, checks.SNAPSHOT_NOT_EMPTY), range_tags)
    [failure] = result.get_step_failure_events()
    assert "checks one captured load" in str(failure.step_failure_data.error)
    assert not result.get_asset_check_evaluations()


def test_shrink_threshold_comes_from_the_environment(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt(
        platform, "DELETE FROM raw.users_extract WHERE snapshot_date = '2024-01-03' AND id > 19"
    )
    key = _key(RAW_USERS, checks.SNAPSHOT_NOT_SHRUNK)
    assert not check_partition(key, DAY_2).passed
    monkeypatch.setenv("PAGEVIEW_MAX_SNAPSHOT_SHRINK", "0.2")
    assert check_partition(key, DAY_2).passed


def test_each_accepted_snapshot_records_its_distinct_users(platform: Platform) -> None:
    """Counted here in Python from the captured rows, apart from the capture's SQL."""
    raw = platform.query("SELECT snapshot_date, id FROM raw.users_extract")
    want = {}
    for snapshot_date, user_id in raw:
        if user_id is not None:
            want.setdefault(snapshot_date, set()).add(user_id)
    recorded = platform.query("SELECT snapshot_date, users FROM ops.users_snapshot_users")
    assert sorted(recorded) == sorted((d, len(ids)) for d, ids in want.items())
    # Raw holds the rows verbatim: day 1's rows with a blank or no postcode count, one without
    # an id does not.
    assert [users for _, users in sorted(recorded)] == [22, 22]


def test_the_shrink_check_reads_the_previous_snapshots_users_as_recorded(
    platform: Platform,
) -> None:
    """The previous snapshot's users come from its capture's record, not a second count of its
    rows; a snapshot captured before the record existed is counted."""
    key = _key(RAW_USERS, checks.SNAPSHOT_NOT_SHRUNK)
    corrupt(
        platform,
        "UPDATE ops.users_snapshot_users SET users = 100 WHERE snapshot_date = '2024-01-02'",
    )
    evaluation = check_partition(key, DAY_2)
    assert not evaluation.passed
    assert (metadata(evaluation)["users"], metadata(evaluation)["previous_users"]) == (22, 100)

    corrupt(platform, "DELETE FROM ops.users_snapshot_users")
    evaluation = check_partition(key, DAY_2)
    assert evaluation.passed
    assert metadata(evaluation)["previous_users"] == 22


def test_the_capture_guard_reads_the_previous_snapshots_users_as_recorded(
    platform: Platform,
) -> None:
    """The guard judges a landing snapshot against the previous snapshot's recorded users: with
    the record inflated, the same snapshot that passed is held as shrunk; without a record it is
    counted and passes."""
    corrupt(
        platform,
        "UPDATE ops.users_snapshot_users SET users = 100 WHERE snapshot_date = '2024-01-03'",
    )
    platform.land_users(_users(2))
    assert platform.ingest_users("2024-01-04", expect_ok=False) == 1
    assert platform.query(
        "SELECT count(*) FROM raw.users_extract WHERE snapshot_date = '2024-01-04'"
    ) == [(0,)]
    assert platform.query(
        "SELECT check_name FROM ops.users_snapshot_blocks WHERE snapshot_date = '2024-01-04'"
    ) == [(checks.SNAPSHOT_NOT_SHRUNK,)]

    corrupt(platform, "DELETE FROM ops.users_snapshot_users WHERE snapshot_date = '2024-01-03'")
    platform.land_users(_users(2))
    platform.ingest_users("2024-01-04")
    assert platform.query(
        "SELECT users FROM ops.users_snapshot_users WHERE snapshot_date = '2024-01-04'"
    ) == [(22,)]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "ten", "nan"])
def test_shrink_threshold_must_be_a_fraction(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PAGEVIEW_MAX_SNAPSHOT_SHRINK", value)
    with pytest.raises(SettingsError, match="PAGEVIEW_MAX_SNAPSHOT_SHRINK"):
        get_settings()


def _history_and_views(platform: Platform) -> tuple[list[tuple], dict[str, set]]:
    history = platform.query("SELECT * FROM core.user_postcode_history ORDER BY ALL")
    return history, platform.views()


def test_a_shrunk_snapshot_fails_the_ingest_and_leaves_history_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with platform_at(tmp_path, max_snapshot_shrink=PRODUCTION_SHRINK) as platform:
        platform.land_users([(i, f"AA{i} 1AA") for i in range(1, 21)])
        platform.ingest_users(DAY_1)
        platform.land_pageviews([(i, "/a", datetime(2024, 1, 2, 10)) for i in range(1, 21)])
        platform.ingest_pageviews("2024-01-02T10")
        before = _history_and_views(platform)
        capsys.readouterr()

        # Everyone moved, but three users are missing: 15% fewer than the day before.
        platform.land_users([(i, f"BB{i} 1BB") for i in range(1, 18)])
        assert platform.ingest_users(DAY_2, expect_ok=False) == 1
        # Only the CLI's own line: Python warnings raised while loading may precede it.
        err = capsys.readouterr().err.splitlines()
        [reason] = [line for line in err if line.startswith("pageview-platform:")]
        assert "ingest_users_snapshot [2024-01-03] failed" in reason
        assert checks.SNAPSHOT_NOT_SHRUNK in reason
        assert _history_and_views(platform) == before

        # The operator re-lands a fuller extract: one user fewer (5%) is within the threshold.
        platform.land_users([(i, f"BB{i} 1BB") for i in range(1, 20)])
        platform.ingest_users(DAY_2)
        assert platform.query(
            "SELECT count(*) FROM core.user_postcode_history WHERE valid_from = '2024-01-03'"
        ) == [(19,)]
        assert _history_and_views(platform) != before
