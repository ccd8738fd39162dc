"""Order and repetition: any plan of ingests, holds and backfills ends in the oracle's rows.

Hypothesis draws a scenario (the same strategy as test_oracle_scenarios: snapshots and hourly
loads with late rows, double clicks, moves and bad rows), then an execution plan over it, the
way an operator might run it on a bad day, on a warehouse whose shrink check is at
PAGEVIEW_MAX_SNAPSHOT_SHRINK=0.5 (PLAN_SHRINK):

  ingest    land a snapshot or load and run the CLI's ingest (every distinct content at least
            once, in a random order), plus one or two of: a content landed again, a date
            re-captured empty or partial (a subset of its rows: held when it shrinks too much
            against the latest accepted snapshot before it), a correction (a date with other
            content); any of these perhaps followed by `accept-snapshot` of its date
  rerun     run the last ingest of a kind again as is: the landing table still holds its rows
  merge     re-merge a range of load hours (`merge_pageviews_loads`, one run over the range)
  history   rebuild postcode history over a window of days (`update_postcode_history`)

A key whose last ingestion in the plan is not its final content in the scenario is ingested
(re-landed) once more at the end; the oracle decides whether that one is accepted or held too.

Checked:
  * each ingest exits as the oracle's model says: 1 for a snapshot it holds (or an
    accept-snapshot with nothing held), else 0;
  * every operation that cannot change the answer (a held snapshot, an accept of nothing, a
    merge, a history rebuild, a rerun, an ingest of the content a key already has accepted)
    leaves every table below untouched, row for row (raw.users_extract_held is not among them:
    a held capture is kept aside on purpose);
  * a history window holding an accepted non-empty snapshot, with another dated after it, is
    refused (and changes nothing); any other window runs, held dates in it or not;
  * after the plan, the six BI views, both quarantines and the raw captures (accepted and held)
    equal the oracle's;
  * after the plan, those and the fact, the history and the aggregates equal a second warehouse
    that ingested the final ACCEPTED content of each key once each, in chronological order,
    with the shrink check off: the answers are a function of the set of accepted loads alone.

Environment knobs (CI uses the defaults):
  ORDER_MAX_EXAMPLES  drawn examples (default 1, plus the explicit one; `make soak-order` runs 50)
  ORDER_RANDOM=1      fresh random examples instead of the fixed (derandomized) sequence
  ORDER_SHRINK=1      let hypothesis shrink a failure (slow: every step is a Dagster run)
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from pageview_platform.jobs import MERGE_PAGEVIEWS_LOADS, UPDATE_POSTCODE_HISTORY
from pageview_platform.partition_keys import day_key, hour_key
from pageview_platform.runs import RunFailed, run_launcher
from pageview_platform.settings import get_settings
from pageview_platform_tests import oracle
from pageview_platform_tests.harness import Platform, platform_at
from pageview_platform_tests.test_oracle_scenarios import (
    LOAD_HOURS,
    SNAPSHOT_DATES,
    TWICE,
    assert_agrees,
    d,
    h,
    ingest,
    scenarios,
    users_events,
    warehouse_state,
)

Key = tuple[str, object]  # ("users", date) or ("pageviews", hour)
# ("ingest" | "rerun", event) | ("accept", ("accept", date, None))
# | ("merge", first hour, last hour) | ("history", first day, last day)
Op = tuple

FIRST_HOUR = datetime(2024, 1, 1)
# The plan's shrink check: a re-capture of a date missing more than half the users of the
# latest accepted snapshot before it is held. The chronological run has it off ("1").
PLAN_SHRINK = "0.5"


def key_of(event: oracle.Event) -> Key:
    kind, key, _ = event
    return kind, key


# ---------------------------------------------------------------- drawing a plan


@st.composite
def hour_ranges(draw: st.DrawFn) -> tuple[datetime, datetime]:
    """A backfill window of load hours: around a load hour, mostly short, sometimes a day."""
    first = draw(st.sampled_from(LOAD_HOURS)) - draw(
        st.sampled_from([timedelta(0)] * 2 + [timedelta(hours=1)])
    )
    first = max(first, FIRST_HOUR)
    span = draw(st.sampled_from([0, 0, 1, 2, 3, 24]))
    return first, first + timedelta(hours=span)


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[date, date]:
    first, last = sorted(draw(st.lists(st.sampled_from(SNAPSHOT_DATES), min_size=2, max_size=2)))
    return first, last


@st.composite
def extra_ingests(
    draw: st.DrawFn, contents: list[oracle.Event], final: dict[Key, list]
) -> list[Op]:
    """A date re-captured partial, empty or corrected (perhaps then accepted as it is with
    accept-snapshot, whether or not it was held); or a content landed again.

    Hypothesis's first draw is its simplest: the latest date re-captured with one row only,
    then accepted, so CI's one drawn plan holds a snapshot and accepts it."""
    days = sorted((key for kind, key in final if kind == "users"), reverse=True)
    choice = draw(st.sampled_from(["partial", "empty", "correction", "again"]))
    if choice == "again" or not days:
        return [("ingest", draw(st.sampled_from(contents)))]
    day = draw(st.sampled_from(days))
    whole = final[("users", day)]
    if choice == "partial" and len(whole) > 1:  # some of the date's rows, at least one
        rows = draw(st.permutations(whole))[: 1 + draw(st.integers(0, len(whole) - 2))]
    elif choice == "correction":
        rows = draw(users_events(day))[2]
    else:
        rows = []
    ops: list[Op] = [("ingest", ("users", day, rows))]
    if draw(st.integers(0, 2)) == 0:
        ops.append(("accept", ("accept", day, None)))
    return ops


def resolve(ops: list[list[Op]], final: dict[Key, list]) -> list[Op]:
    """Makes each drawn group of operations concrete in the order drawn, then adds the closing
    ingests (re-lands).

    A rerun becomes the ingest the landing table still holds (dropped if nothing of its kind
    was landed yet); every key whose last ingestion is not its final content is ingested again
    with it at the end.
    """
    landed: dict[str, oracle.Event] = {}
    last: dict[Key, list] = {}
    plan: list[Op] = []
    for op in (op for group in ops for op in group):
        if op[0] == "rerun":
            if op[1] not in landed:
                continue
            op = ("rerun", landed[op[1]])
        if op[0] in ("ingest", "rerun"):
            event = op[1]
            landed[event[0]] = event
            last[key_of(event)] = event[2]
        plan.append(op)
    for key in sorted(final, key=str):
        if last.get(key) != final[key]:
            plan.append(("ingest", (*key, final[key])))
    return plan


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[oracle.Event], list[Op]]:
    """A scenario and a plan that runs it in another order, with holds, repeats and backfills."""
    events = draw(scenarios())
    final = {key_of(event): event[2] for event in events}  # the last ingestion of each key
    contents: list[oracle.Event] = []
    for event in events:
        if event not in contents:
            contents.append(event)
    groups: list[list[Op]] = [[("ingest", event)] for event in contents]
    groups += draw(st.lists(extra_ingests(contents, final), min_size=1, max_size=2))
    reruns = draw(st.lists(st.sampled_from(["users", "pageviews"]), max_size=1))
    groups += [[("rerun", kind)] for kind in reruns]
    # Up to two merges (the explicit plan has one: CI's drawn plan spends its time on a hold).
    windows = draw(st.lists(hour_ranges(), max_size=2))
    groups += [[("merge", *window)] for window in windows]
    windows = draw(st.lists(day_ranges(), min_size=1, max_size=2))
    groups += [[("history", *window)] for window in windows]
    return events, resolve(draw(st.permutations(groups)), final)


# ---------------------------------------------------------------- running a plan


def run_ingest(p: Platform, event: oracle.Event, before: list[oracle.Event]) -> None:
    """The CLI's ingest of EVENT's key, without landing: the landing table holds its rows.
    Exits as the oracle says for EVENT run after BEFORE (1 when it holds the snapshot)."""
    kind, key, _ = event
    if kind == "users":
        code = p.ingest_users(key, expect_ok=False)
    else:
        code = p.ingest_pageviews(key, expect_ok=False)
    want = oracle.exit_code([*before, event], max_shrink=PLAN_SHRINK)
    assert code == want, f"rerun {kind} {key!s} exited {code}, the oracle says {want}"


def backfill(job: str, first: str, last: str) -> str | None:
    """Runs JOB over FIRST..LAST in one run, as the UI's backfill does; the refusal, or None."""
    with run_launcher(get_settings().dagster_home) as launcher:
        try:
            launcher.run(job, first, last)
        except RunFailed as err:
            return str(err)
    return None


# The fact, the history and the aggregates: not the oracle's business, but an order-free
# pipeline ends with the same rows in them too. An aggregate row whose count went to zero may
# stay behind (no BI view shows it), so only non-zero counts are compared.
INTERNAL_TABLES = {
    "core.user_postcode_history": (
        "user_id, postcode, valid_from, valid_to, is_current, version_number",
        "",
    ),
    "core.pageview_fact": (
        "pageview_hour, user_id, url, pageview_datetime, view_count, postcode_at_view",
        "",
    ),
    "agg.current_postcode_by_user": ("user_id, postcode, valid_from", ""),
    **{
        f"agg.pageviews_by_{question}_{grain}": (
            f"pageview_{period}, postcode, pageviews",
            "WHERE pageviews <> 0",
        )
        for question in ("current_postcode", "postcode_at_view")
        for grain, period in (("hourly", "hour"), ("daily", "day"), ("monthly", "month"))
    },
}


CAPTURE_TABLES = (
    "core.users_quarantine",
    "core.pageviews_quarantine",
    "raw.users_extract",
    "raw.pageviews_extract",
)


class _OneConnection(Platform):
    """A Platform whose queries share one read-only connection (a state is ~20 queries)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        return self._con.execute(sql, params or []).fetchall()


def full_state(p: Platform) -> dict[str, object]:
    """warehouse_state (views, quarantines, captures) plus the fact, history and aggregates."""
    if not p.warehouse.exists():  # nothing ran yet: every table is empty
        empty: dict[str, object] = {name: set() for name in oracle.VIEW_NAMES}
        return empty | {table: Counter() for table in (*CAPTURE_TABLES, *INTERNAL_TABLES)}
    with duckdb.connect(str(p.warehouse), read_only=True) as con:
        one = _OneConnection(con)
        state = warehouse_state(one)
        assert set(state) == {*oracle.VIEW_NAMES, *CAPTURE_TABLES}
        for table, (columns, where) in INTERNAL_TABLES.items():
            state[table] = Counter(one.query(f"SELECT {columns} FROM {table} {where}"))
    return state


def state_diff(before: dict[str, object], after: dict[str, object]) -> str:
    lines = []
    for name in before:
        if before[name] != after[name]:
            gone = Counter(before[name]) - Counter(after[name])
            new = Counter(after[name]) - Counter(before[name])
            lines.append(
                f"  {name}\n    gone: {sorted(gone.elements())}\n    new:  {sorted(new.elements())}"
            )
    return "\n".join(lines)


def show_plan(plan: list[Op], upto: int | None = None) -> str:
    lines = []
    for i, op in enumerate(plan[:upto]):
        if op[0] in ("ingest", "rerun"):
            kind, key, rows = op[1]
            lines.append(f"  {i}: {op[0]} {kind} {key!s} {rows!r}")
        elif op[0] == "accept":
            lines.append(f"  {i}: accept-snapshot {op[1][1]!s}")
        else:
            lines.append(f"  {i}: {op[0]} {op[1]!s} .. {op[2]!s}")
    return "\n".join(lines)


def _answers(model: oracle.Ingested) -> tuple[object, object]:
    """What the answers are a function of: the accepted snapshots and the loads."""
    return model.snapshots, model.loads


def run_plan(p: Platform, plan: list[Op]) -> list[oracle.Event]:
    """Runs PLAN, checking each exit code with the oracle's model and each operation that must
    change nothing; returns what was run, as oracle events (accepts included)."""
    ingested: list[oracle.Event] = []
    for i, op in enumerate(plan):
        model = oracle.replay(ingested, PLAN_SHRINK)
        if op[0] in ("ingest", "rerun", "accept"):
            event = op[1]
            after = oracle.replay([*ingested, event], PLAN_SHRINK)
            no_op = _answers(after) == _answers(model)
            if after.exit_codes[-1]:
                tally(f"{'accept-snapshot' if op[0] == 'accept' else op[0]} exits 1")
        else:
            no_op = True
        before = full_state(p) if no_op else None
        where = f"step {i}\n{show_plan(plan, i + 1)}"
        if op[0] in ("ingest", "accept"):
            ingest(p, op[1], ingested, PLAN_SHRINK)
        elif op[0] == "rerun":
            run_ingest(p, op[1], ingested)
        elif op[0] == "merge":
            refusal = backfill(MERGE_PAGEVIEWS_LOADS, hour_key(op[1]), hour_key(op[2]))
            assert refusal is None, f"{where}\n{refusal}"
        else:
            refusal = backfill(UPDATE_POSTCODE_HISTORY, day_key(op[1]), day_key(op[2]))
            # Refused only when the window holds an accepted non-empty snapshot and another is
            # dated after it (the rebuild must run through the latest); a window with nothing
            # to rebuild runs, and held dates in or after it do not matter.
            accepted = sorted(day for day, rows in model.snapshots.items() if rows)
            inside = [day for day in accepted if op[1] <= day <= op[2]]
            later = [day for day in accepted if day > op[2]]
            tally(f"history window {'refused' if refusal else 'ran'}")
            assert (refusal is not None) == bool(inside and later), (
                f"history {op[1]}..{op[2]} with accepted snapshots {inside} in it, {later} after"
                f" it and held ones {sorted(model.held)}: {refusal or 'ran'}\n{where}"
            )
        if op[0] in ("ingest", "rerun", "accept"):
            ingested.append(op[1])
        if before is not None:
            after_state = full_state(p)
            assert after_state == before, (
                f"{op[0]} should have changed nothing but did:\n"
                f"{state_diff(before, after_state)}\n{where}"
            )
    return ingested


def chronological(model: oracle.Ingested) -> list[oracle.Event]:
    """Each key's final accepted content once, in time order (a day's snapshot before its hours'
    loads); an empty snapshot is accepted by accept-snapshot right after its (held) ingest."""

    def moment(key: Key) -> tuple[datetime, int]:
        kind, value = key
        if kind == "users":
            return datetime.combine(value, datetime.min.time()), 0
        return value, 1

    final: dict[Key, list] = {("users", day): rows for day, rows in model.snapshots.items()}
    final |= {("pageviews", hour): rows for hour, rows in model.loads.items()}
    events: list[oracle.Event] = []
    for key in sorted(final, key=moment):
        events.append((*key, final[key]))
        if key[0] == "users" and not final[key]:
            events.append(("accept", key[1], None))
    return events


# ---------------------------------------------------------------- the property

# Always run, whatever hypothesis draws: TWICE (test_oracle_scenarios) has a load re-ingested
# with other content, a row in two loads, double clicks, a back-dated snapshot and bad rows.
# The plan touches every kind of operation but accept-snapshot (CI's drawn plan has one): a
# snapshot held (01-02 re-captured empty) with the back-dated one applied around it, a history
# window that must be refused, one over the held date that runs, and the complete 01-02
# re-landed at the end.
EXPLICIT_OPS: list[Op] = [
    ("ingest", TWICE[3]),  # load 01-02T00 first: its 23:05 row is also in load 01-01T23
    ("merge", h(1, 1, 22), h(1, 2, 1)),  # a window with uncaptured hours in it
    ("ingest", TWICE[1]),  # snapshot 01-02
    ("ingest", ("users", d(1, 2), [])),  # 01-02 re-captured empty: held, changes nothing
    ("ingest", TWICE[4]),  # load 01-01T23, its final content
    ("ingest", TWICE[2]),  # snapshot 01-01, back-dated around the held 01-02
    ("history", d(1, 1), d(1, 1)),  # refused: 01-02's accepted snapshot is after it
    ("ingest", TWICE[0]),  # load 01-01T23, its first content, after the final one
    ("history", d(1, 1), d(1, 4)),  # runs over the held date, changes nothing
    ("rerun", "users"),  # snapshot 01-01 (the last users landed) again, as is
]  # resolve() closes with load 01-01T23's final content and 01-02 re-landed complete
EXPLICIT_CASE = (TWICE, resolve([[op] for op in EXPLICIT_OPS], {key_of(e): e[2] for e in TWICE}))


@pytest.fixture(scope="module")
def order_dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("order_dagster_home")


_PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("ORDER_SHRINK") == "1" else []
)


@settings(
    max_examples=int(os.environ.get("ORDER_MAX_EXAMPLES", "1")),
    deadline=None,
    derandomize=os.environ.get("ORDER_RANDOM") != "1",
    database=None,
    phases=_PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
@example(case=EXPLICIT_CASE)
def test_any_order_holds_and_repetition_end_in_the_oracles_rows(
    order_dagster_home: Path, case: tuple[list[oracle.Event], list[Op]]
) -> None:
    _events, plan = case
    kinds = Counter(op[0] for op in plan)
    tally(f"plan of {len(plan)} steps: {kinds['merge']} merges, {kinds['history']} histories")
    with tempfile.TemporaryDirectory() as directory:
        with platform_at(
            Path(directory) / "plan",
            dagster_home=order_dagster_home,
            max_snapshot_shrink=PLAN_SHRINK,
        ) as p:
            ingested = run_plan(p, plan)
            model = oracle.replay(ingested, PLAN_SHRINK)
            tally(f"held at the end: {bool(model.held)}")
            natural = chronological(model)
            assert oracle.expected_views(ingested, max_shrink=PLAN_SHRINK) == (
                oracle.expected_views(natural)
            )
            assert_agrees(p, ingested, f" after the plan\n{show_plan(plan)}\n", PLAN_SHRINK)
            after_plan = full_state(p)
        # The final accepted contents once each, in time order, the shrink check off.
        with platform_at(
            Path(directory) / "natural", dagster_home=order_dagster_home, max_snapshot_shrink="1"
        ) as q:
            for i, event in enumerate(natural):
                ingest(q, event, natural[:i])
            in_order = full_state(q)
    assert after_plan == in_order, (
        f"the plan and the chronological run of its accepted contents differ"
        f" (- natural, + plan):\n{state_diff(in_order, after_plan)}\nplan:\n{show_plan(plan)}"
    )


# ---------------------------------------------------------------- a held snapshot


def test_a_held_recapture_leaves_the_accepted_one_in_use_and_history_over_it_runs(
    order_dagster_home: Path, tmp_path: Path
) -> None:
    """A partial re-extract of 01-02 (user 2 missing) is held by the shrink check: nothing
    changes, and the answers keep user 2 in N1 9GU from 01-02's accepted snapshot. A history
    backfill over 01-02 then runs (a held date does not refuse it) and changes nothing."""
    with platform_at(tmp_path, dagster_home=order_dagster_home, max_snapshot_shrink="0.10") as p:
        events: list[oracle.Event] = [
            ("users", d(1, 1), [(1, "SW1A 1AA"), (2, "EC1A 1BB")]),
            ("users", d(1, 2), [(1, "SW1A 1AA"), (2, "N1 9GU")]),
            ("pageviews", h(1, 2, 10), [(2, "/a", h(1, 2, 10) + timedelta(minutes=5))]),
        ]
        for i, event in enumerate(events):
            ingest(p, event, events[:i], "0.10")
        before = full_state(p)
        events.append(("users", d(1, 2), [(1, "SW1A 1AA")]))
        assert oracle.was_held(events, max_shrink="0.10")
        assert ingest(p, events[-1], events[:-1], "0.10") == 1  # snapshot_not_shrunk
        held = full_state(p)
        assert held == before, state_diff(before, held)
        assert (h(1, 2, 10), "N1 9GU", 1) in held["bi.pageviews_by_current_postcode_hourly"]
        assert p.query("SELECT snapshot_date, id, postcode FROM raw.users_extract_held") == [
            (datetime(2024, 1, 2), 1, "SW1A 1AA")
        ]
        refusal = backfill(UPDATE_POSTCODE_HISTORY, day_key(d(1, 2)), day_key(d(1, 2)))
        assert refusal is None, refusal
        after = full_state(p)
        assert after == before, state_diff(before, after)
        assert_agrees(p, events, " after the backfill", "0.10")
