"""Asset checks: data-quality rules on every asset, evaluated in the run that writes it.

Each check is partitioned like its asset and reads the run's partition window as `$start` /
`$end`, so a range run checks the whole range in one evaluation (Dagster records a range
run's result without a partition key). The jobs select assets with `AssetSelection.assets`,
which takes their checks along: every check runs right after its asset, in the same run.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    PartitionsDefinition,
    asset_check,
    multi_asset_check,
)

from pageview_platform.assets.capture import (
    PAGEVIEWS_QUARANTINE,
    RAW_PAGEVIEWS_EXTRACT,
    RAW_USERS_EXTRACT,
    USERS_QUARANTINE,
)
from pageview_platform.assets.history import USER_POSTCODE_HISTORY
from pageview_platform.assets.pageviews import AT_VIEW_HOURLY, CURRENT_HOURLY, PAGEVIEW_FACT
from pageview_platform.assets.partitions import HOUR, Partitions, one_partition_window, window
from pageview_platform.assets.snapshot_holds import (
    ACCEPT_HELD_TAG,
    SNAPSHOT_NOT_EMPTY,
    SNAPSHOT_NOT_SHRUNK,
    Verdict,
    not_empty,
    not_shrunk,
    previous_users,
)
from pageview_platform.settings import Settings
from pageview_platform.warehouse.session import Connection, WarehouseResource, execute
from pageview_platform.warehouse.sql import read_sql

CAPTURED_EVERY_LANDING_ROW = "captured_every_landing_row"
ACCEPTED_PLUS_QUARANTINED_IS_CAPTURED = "accepted_plus_quarantined_is_captured"
VERSIONS_ARE_CONSISTENT = "versions_are_consistent"
ONE_ROW_PER_PAGEVIEW = "one_row_per_pageview"
HOURLY_TOTALS_MATCH_FACT = "hourly_totals_match_fact"
HOURLY_TOTALS_MATCH_AT_VIEW = "hourly_totals_match_at_view"
ROLLUPS_MATCH_HOURLY = "rollups_match_hourly"
LOAD_IN_ITS_WINDOW = "load_in_its_window"
RECENT_DAYS_RECONCILED = "recent_days_reconciled"
# How far back the nightly reconciliation reaches before the snapshot's date: the loads' late
# rows reach about a day back, into hours their own checks do not sum.
RECONCILED_DAYS = 2

_USERS_CAPTURED_AND_LANDING = """
SELECT
    (SELECT count(*) FROM raw.users_extract WHERE snapshot_date = $start) AS captured_rows,
    (SELECT count(*) FROM landing.users_extract) AS landing_rows
"""

_PAGEVIEWS_CAPTURED_AND_LANDING = """
SELECT
    (SELECT count(*) FROM raw.pageviews_extract WHERE load_hour = $start) AS captured_rows,
    (SELECT count(*) FROM landing.pageviews_extract) AS landing_rows
"""

_SNAPSHOT_ROWS = """
SELECT count(*) AS snapshot_rows FROM raw.users_extract WHERE snapshot_date = $start
"""

# The accepted snapshot's users are counted; the previous one's are read as its capture
# recorded them (snapshot_holds.previous_users counts them when it recorded none).
_SNAPSHOT_USERS_AND_PREVIOUS = """
WITH previous AS (
    SELECT max(snapshot_date) AS snapshot_date FROM raw.users_extract WHERE snapshot_date < $start
)
SELECT
    (SELECT count(DISTINCT id) FROM raw.users_extract WHERE snapshot_date = $start) AS users,
    p.snapshot_date AS previous_snapshot_date,
    u.users AS previous_users
FROM previous AS p
LEFT JOIN ops.users_snapshot_users AS u ON u.snapshot_date = p.snapshot_date
"""


def _one_load_window(context: AssetCheckExecutionContext) -> dict[str, object]:
    """The window of the single load a capture check is about."""
    # A capture takes one load into one partition (it refuses ranges), and the landing table
    # holds only that load: over a range these comparisons would mean nothing.
    return one_partition_window(
        context, f"{context.check_specs[0].key.to_user_string()} checks one captured load"
    )


def _snapshot_verdict(context: AssetCheckExecutionContext, verdict: Verdict) -> AssetCheckResult:
    """A blocking check's result on the accepted snapshot. The capture held any snapshot this
    check would stop, so it fails here only when an operator accepted a held one, which it then
    passes with the reason it was held, or when the landing table changed under the capture."""
    accepted = not verdict.passed and ACCEPT_HELD_TAG in context.run.tags
    return AssetCheckResult(
        passed=verdict.passed or accepted,
        severity=AssetCheckSeverity.ERROR,
        metadata=dict(verdict.metadata),
        description=f"held ({verdict.reason}), accepted by the operator"
        if accepted
        else verdict.reason,
    )


def _row(warehouse: WarehouseResource, sql: str, params: dict[str, object]) -> dict[str, Any]:
    with warehouse.connection() as con:
        return _fetch_row(con, sql, params)


def _fetch_row(con: Connection, sql: str, params: Mapping[str, object]) -> dict[str, Any]:
    cursor = execute(con, sql, params)
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


@dataclass(frozen=True)
class _ZeroCheck:
    """A check that passes when every violation count its SQL returns is zero."""

    asset: Sequence[str]
    name: str
    description: str
    sql: str
    violations: Sequence[str]
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> AssetCheckKey:
        return AssetCheckKey(AssetKey(self.asset), self.name)

    def evaluate(self, con: Connection, window_params: Mapping[str, object]) -> AssetCheckResult:
        row = _fetch_row(con, read_sql(self.sql), {**window_params, **self.params})
        broken = [
            f"{violation}={row[violation]}" for violation in self.violations if row[violation]
        ]
        return AssetCheckResult(
            asset_key=AssetKey(self.asset),
            check_name=self.name,
            passed=not broken,
            severity=AssetCheckSeverity.ERROR,
            metadata=row,
            description=", ".join(broken) or None,
        )


def _all_zero(
    *,
    asset: Sequence[str],
    name: str,
    description: str,
    partitions_def: PartitionsDefinition,
    sql: str,
    violations: Sequence[str],
    additional_deps: Sequence[Sequence[str]] = (),
    params: dict[str, object] | None = None,
) -> AssetChecksDefinition:
    """A check that passes when every violation count its SQL returns is zero, in a step of
    its own."""
    check = _ZeroCheck(asset, name, description, sql, violations, params or {})

    @asset_check(
        asset=asset,
        name=name,
        description=description,
        partitions_def=partitions_def,
        additional_deps=list(additional_deps),
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        with warehouse.connection() as con:
            return check.evaluate(con, window(context))

    return _check


def _all_zero_in_one_step(
    name: str, partitions_def: PartitionsDefinition, checks: Sequence[_ZeroCheck]
) -> AssetChecksDefinition:
    """CHECKS, on assets one step writes together, evaluated in one step of their own (NAME) on
    one connection: a step and its events cost about as much as a cheap check's SQL. Each still
    has its own key, result and metadata, and runs alone when selected alone."""

    @multi_asset_check(
        name=name,
        specs=[
            AssetCheckSpec(
                check.name,
                asset=check.asset,
                description=check.description,
                partitions_def=partitions_def,
            )
            for check in checks
        ],
        can_subset=True,
    )
    def _checks(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[AssetCheckResult]:
        params = window(context)
        selected = context.selected_asset_check_keys
        with warehouse.connection() as con:
            for check in checks:
                if check.key in selected:
                    yield check.evaluate(con, params)

    return _checks


# The checks of what merging a load wrote (the fact, both hourly aggregates and their rollups),
# one step after the merge's.
_PAGEVIEW_FACT_CHECKS = (
    _ZeroCheck(
        asset=PAGEVIEW_FACT,
        name=ONE_ROW_PER_PAGEVIEW,
        description="One row per pageview identity (user_id, url, pageview_datetime) in the"
        " loads' own hours, no NULL keys, and a postcode at view on every row (UNKNOWN"
        " counted, allowed).",
        sql="checks/pageview_fact_identity.sql",
        violations=("duplicate_identities", "null_key_rows", "missing_postcode_rows"),
    ),
    *(
        _ZeroCheck(
            asset=asset,
            name=HOURLY_TOTALS_MATCH_FACT,
            description="Each hour of the loads' window and the hour on either side, where a load"
            " lands nearly all its views: pageviews sum to the fact's view_count. An older hour"
            " a late row reaches is not summed here (that would read a day of the fact a load):"
            f" the nightly {RECENT_DAYS_RECONCILED} check sums it.",
            sql="checks/aggregate_hourly_totals.sql",
            violations=("mismatched_hours",),
            params={"aggregate": aggregate},
        )
        for asset, aggregate in ((AT_VIEW_HOURLY, "at_view"), (CURRENT_HOURLY, "current"))
    ),
    *(
        _ZeroCheck(
            asset=asset,
            name=ROLLUPS_MATCH_HOURLY,
            description="Each day and month of the loads' window and the hour on either side:"
            " the daily and monthly rollups the day and month views read hold the totals of"
            " the day's hours and the month's days.",
            sql="checks/aggregate_rollup_totals.sql",
            violations=("mismatched_days", "mismatched_months"),
            params={"aggregate": aggregate},
        )
        for asset, aggregate in ((AT_VIEW_HOURLY, "at_view"), (CURRENT_HOURLY, "current"))
    ),
    _ZeroCheck(
        asset=CURRENT_HOURLY,
        name=HOURLY_TOTALS_MATCH_AT_VIEW,
        description="Each hour of the loads' window and the hour on either side counts as many"
        " pageviews by current postcode as by postcode at view.",
        sql="checks/current_postcode_vs_at_view_totals.sql",
        violations=("mismatched_hours",),
    ),
)


# What the nightly reconciliation compares, over the snapshot's date and the RECONCILED_DAYS
# before it: the load checks' SQL, over every hour of those days (file, parameters, the columns
# that count violations).
RECONCILIATION: tuple[tuple[str, Mapping[str, object], tuple[str, ...]], ...] = (
    ("checks/aggregate_hourly_totals.sql", {"aggregate": "at_view"}, ("mismatched_hours",)),
    ("checks/aggregate_hourly_totals.sql", {"aggregate": "current"}, ("mismatched_hours",)),
    (
        "checks/aggregate_rollup_totals.sql",
        {"aggregate": "at_view"},
        ("mismatched_days", "mismatched_months"),
    ),
    (
        "checks/aggregate_rollup_totals.sql",
        {"aggregate": "current"},
        ("mismatched_days", "mismatched_months"),
    ),
    ("checks/current_postcode_vs_at_view_totals.sql", {}, ("mismatched_hours",)),
)


def _result_label(file_name: str, params: Mapping[str, object]) -> str:
    """How the reconciliation's metadata names one comparison: the file's stem, its parameters
    (a metadata key, no statement)."""
    return Path(file_name).stem + "".join(f"[{value}]" for value in params.values())


def _recent_days_reconciled(partitions_def: PartitionsDefinition) -> AssetChecksDefinition:
    """The nightly reconciliation: the aggregates and their rollups against the fact over the
    snapshot's date and the days before it, late rows and re-attributed views included."""

    @asset_check(
        asset=USER_POSTCODE_HISTORY,
        name=RECENT_DAYS_RECONCILED,
        description=f"Every hour of the snapshot's date and the {RECONCILED_DAYS} days before"
        " it, with their days and months: both answers' hourly aggregates sum to the fact's"
        " view_count and to each other, and their rollups to their hours. A load's own checks"
        " sum its hour and the hour on either side; this one also sums the older hours its late"
        " rows reached, once a night.",
        partitions_def=partitions_def,
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        params = window(context)
        start: datetime = params["start"] - timedelta(days=RECONCILED_DAYS)
        end: datetime = params["end"]
        # The SQL reads [$start - 1h, $end + 1h): the loads' windows and their neighbours.
        days = {"start": start + HOUR, "end": end - HOUR}
        found: dict[str, object] = {}
        with warehouse.connection() as con:
            for script, extra, violations in RECONCILIATION:
                row = _fetch_row(con, read_sql(script), {**days, **extra})
                label = _result_label(script, extra)
                found.update({f"{label}.{name}": row[name] for name in violations})
        broken = [f"{name}={count}" for name, count in found.items() if count]
        return AssetCheckResult(
            passed=not broken,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                **found,
                "reconciled_from": start.isoformat(sep=" "),
                "reconciled_to": end.isoformat(sep=" "),
            },
            description=", ".join(broken) or None,
        )

    return _check


def _captured_every_landing_row(
    asset: Sequence[str], partitions_def: PartitionsDefinition, sql: str
) -> AssetChecksDefinition:
    """A check that the capture of a load holds as many rows as the landing table."""

    @asset_check(
        asset=asset,
        name=CAPTURED_EVERY_LANDING_ROW,
        description="The captured load holds as many rows as the landing table it was copied"
        " from (read at check time, right after the capture in the same run).",
        partitions_def=partitions_def,
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        row = _row(warehouse, sql, _one_load_window(context))
        passed = row["captured_rows"] == row["landing_rows"]
        return AssetCheckResult(
            passed=passed,
            # The extract may reload the landing table between capture and check; a mismatch
            # then says nothing about the copy, so it warns rather than errs.
            severity=AssetCheckSeverity.WARN,
            metadata=row,
            description=None
            if passed
            else f"captured {row['captured_rows']} rows, the landing table holds"
            f" {row['landing_rows']}",
        )

    return _check


def _quarantine_balance(
    asset: Sequence[str], partitions_def: PartitionsDefinition, sql: str, reasons_sql: str
) -> AssetChecksDefinition:
    """A check that every captured row of a load is either accepted or quarantined."""

    @asset_check(
        asset=asset,
        name=ACCEPTED_PLUS_QUARANTINED_IS_CAPTURED,
        description="Accepted rows (no reject_reason) plus quarantined rows equal the captured"
        " rows of each load; metadata counts the quarantined rows per reason.",
        partitions_def=partitions_def,
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        params = window(context)
        row = _row(warehouse, read_sql(sql), params)
        with warehouse.connection() as con:
            by_reason = dict(execute(con, read_sql(reasons_sql), params).fetchall())
        passed = row["accepted"] + row["quarantined"] == row["captured"]
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            description=None
            if passed
            else f"{row['accepted']} accepted + {row['quarantined']} quarantined rows, but"
            f" {row['captured']} captured",
            metadata={
                **row,
                **{f"quarantined_{reason}": count for reason, count in sorted(by_reason.items())},
            },
        )

    return _check


def build_asset_checks(partitions: Partitions, settings: Settings) -> list[AssetChecksDefinition]:
    """Every asset check of the graph; SETTINGS give the snapshot shrink a check tolerates."""
    max_shrink = settings.max_snapshot_shrink

    @asset_check(
        asset=RAW_USERS_EXTRACT,
        name=SNAPSHOT_NOT_EMPTY,
        partitions_def=partitions.daily,
        blocking=True,
    )
    def users_snapshot_not_empty(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        """The accepted users snapshot holds at least one row (the capture holds an empty one)."""
        row = _row(warehouse, _SNAPSHOT_ROWS, _one_load_window(context))
        return _snapshot_verdict(context, not_empty(row["snapshot_rows"]))

    @asset_check(
        asset=RAW_USERS_EXTRACT,
        name=SNAPSHOT_NOT_SHRUNK,
        partitions_def=partitions.daily,
        blocking=True,
    )
    def users_snapshot_not_shrunk(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        """The accepted snapshot has at most PAGEVIEW_MAX_SNAPSHOT_SHRINK fewer users than the
        latest accepted one before it (the capture holds a partial extract aside)."""
        with warehouse.connection() as con:
            row = _fetch_row(con, _SNAPSHOT_USERS_AND_PREVIOUS, _one_load_window(context))
            previous_date = row["previous_snapshot_date"]
            previous = previous_users(con, previous_date, row["previous_users"])
        return _snapshot_verdict(
            context, not_shrunk(row["users"], previous_date, previous, max_shrink)
        )

    return [
        _captured_every_landing_row(
            RAW_USERS_EXTRACT, partitions.daily, _USERS_CAPTURED_AND_LANDING
        ),
        users_snapshot_not_empty,
        users_snapshot_not_shrunk,
        _captured_every_landing_row(
            RAW_PAGEVIEWS_EXTRACT, partitions.hourly, _PAGEVIEWS_CAPTURED_AND_LANDING
        ),
        _all_zero(
            asset=RAW_PAGEVIEWS_EXTRACT,
            name=LOAD_IN_ITS_WINDOW,
            description="A non-empty load has at least one view in its own window [load hour,"
            " load hour + 2h); none means it was ingested under the wrong hour.",
            partitions_def=partitions.hourly,
            sql="checks/pageviews_load_in_its_window.sql",
            violations=("loads_outside_their_window",),
        ),
        _quarantine_balance(
            USERS_QUARANTINE,
            partitions.daily,
            "checks/users_quarantine_balance.sql",
            "checks/users_quarantine_reasons.sql",
        ),
        _quarantine_balance(
            PAGEVIEWS_QUARANTINE,
            partitions.hourly,
            "checks/pageviews_quarantine_balance.sql",
            "checks/pageviews_quarantine_reasons.sql",
        ),
        _all_zero(
            asset=USER_POSTCODE_HISTORY,
            name=VERSIONS_ARE_CONSISTENT,
            description="Versions starting in the partition are unique per (user_id, valid_from),"
            " have no NULL keys and end after they start, and their users have at most one"
            " current version.",
            partitions_def=partitions.daily,
            sql="checks/user_postcode_history_versions.sql",
            violations=(
                "duplicate_versions",
                "users_with_several_current",
                "null_key_rows",
                "non_increasing_validity",
            ),
        ),
        _all_zero_in_one_step(
            "pageview_fact_and_aggregates_checks", partitions.hourly, _PAGEVIEW_FACT_CHECKS
        ),
        _recent_days_reconciled(partitions.daily),
    ]
