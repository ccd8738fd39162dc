"""Checks that the simulator lands extracts with production's shape, noise and determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pageview_platform.simulator import Event, SimulationConfig, Simulator

START = date(2024, 1, 1)
# Large enough that every kind of noise is expected several times in one load or snapshot.
NOISY = SimulationConfig(
    seed=7,
    users=4000,
    pageviews_per_day=60_000,
    start_date=START,
    days=3,
    move_share=0.02,
    new_user_share=0.01,
    delete_share=0.01,
    late_share=0.03,
    overlap_share=0.03,
    duplicate_share=0.01,
    bad_row_share=0.03,
    messy_share=0.03,
)
HOUR = datetime(2024, 1, 2, 14)
HOUR_1 = timedelta(hours=1)
NORMALISED = "upper(regexp_replace(trim(postcode, ' ' || chr(9)), '\\s+', ' ', 'g'))"
PageviewRow = tuple[int | None, str | None, datetime | None]


def _users(con: duckdb.DuckDBPyConnection) -> list[tuple[int | None, str | None]]:
    return con.execute("SELECT id, postcode FROM landing.users_extract").fetchall()


def _pageviews(con: duckdb.DuckDBPyConnection) -> list[PageviewRow]:
    return con.execute(
        "SELECT user_id, url, pageview_datetime FROM landing.pageviews_extract"
    ).fetchall()


def _load(sim: Simulator, hour: datetime) -> list[PageviewRow]:
    with duckdb.connect() as con:
        sim.write_pageviews_load(con, hour)
        return _pageviews(con)


def _homes(sim: Simulator, day: date) -> dict[int, str]:
    """Each cleanly listed user's normalised postcode, leaving out users with conflicting rows."""
    with duckdb.connect() as con:
        sim.write_users_snapshot(con, day)
        rows = con.execute(
            f"""
            SELECT id, min({NORMALISED})
            FROM landing.users_extract
            WHERE id IS NOT NULL AND trim(postcode, ' ' || chr(9)) <> ''
            GROUP BY id
            HAVING count(DISTINCT {NORMALISED}) = 1
            """
        ).fetchall()
    return dict(rows)


def _ids(sim: Simulator, day: date) -> set[int]:
    with duckdb.connect() as con:
        sim.write_users_snapshot(con, day)
        rows = con.execute("SELECT id FROM landing.users_extract WHERE id IS NOT NULL").fetchall()
    return {i for (i,) in rows}


def _valid(row: PageviewRow) -> bool:
    user_id, url, viewed = row
    return user_id is not None and url is not None and url.strip() != "" and viewed is not None


@pytest.fixture(scope="module")
def load() -> list[PageviewRow]:
    return _load(Simulator(NOISY), HOUR)


def test_same_seed_lands_identical_tables_in_separate_databases(tmp_path: Path) -> None:
    contents = []
    for name in ("a", "b"):
        with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as con:
            sim = Simulator(NOISY)
            sim.write_users_snapshot(con, START + timedelta(days=2))
            sim.write_pageviews_load(con, HOUR)
            contents.append((_users(con), _pageviews(con)))
    assert contents[0] == contents[1]
    assert contents[0][0] and contents[0][1]


def test_different_seeds_land_different_tables() -> None:
    other = Simulator(SimulationConfig(**{**NOISY.__dict__, "seed": 8}))
    assert _load(Simulator(NOISY), HOUR) != _load(other, HOUR)
    assert _homes(Simulator(NOISY), START) != _homes(other, START)


def test_a_snapshot_does_not_depend_on_what_was_written_before() -> None:
    sim = Simulator(NOISY)
    day = START + timedelta(days=2)
    with duckdb.connect() as fresh, duckdb.connect() as used:
        sim.write_users_snapshot(fresh, day)
        for earlier in (START, START + timedelta(days=5), day):
            sim.write_users_snapshot(used, earlier)
        assert _users(fresh) == _users(used)


def test_load_is_mostly_its_own_hour(load: list[PageviewRow]) -> None:
    in_hour = [r for r in load if r[2] is not None and HOUR <= r[2] < HOUR + timedelta(hours=1)]
    assert len(in_hour) / len(load) > 0.85


def test_load_overlaps_the_next_hours_first_minutes_which_the_next_load_repeats(
    load: list[PageviewRow],
) -> None:
    next_hour = HOUR + timedelta(hours=1)
    ahead = {r for r in load if _valid(r) and next_hour <= r[2] < next_hour + timedelta(hours=1)}
    assert len(ahead) > 5
    assert max(r[2] for r in ahead) < next_hour + timedelta(minutes=15)
    assert ahead <= set(_load(Simulator(NOISY), next_hour))


def test_load_repeats_the_previous_hours_last_minutes(load: list[PageviewRow]) -> None:
    previous = set(_load(Simulator(NOISY), HOUR - timedelta(hours=1)))
    repeated = {r for r in load if _valid(r) and r in previous}
    assert len(repeated) > 5
    assert min(r[2] for r in repeated) > HOUR - timedelta(minutes=15)


def test_load_catches_up_on_late_rows_missing_from_their_own_hours_load(
    load: list[PageviewRow],
) -> None:
    late = [
        r for r in load if _valid(r) and datetime(2000, 1, 1) <= r[2] < HOUR - timedelta(hours=1)
    ]
    assert len(late) > 5
    assert min(r[2] for r in late) >= HOUR - timedelta(days=1)
    sim = Simulator(NOISY)
    for row in late[:5]:
        own_hour = row[2].replace(minute=0, second=0, microsecond=0)
        assert row not in _load(sim, own_hour)


def test_load_holds_double_clicks(load: list[PageviewRow]) -> None:
    repeats = [row for row, n in Counter(load).items() if n > 1 and _valid(row)]
    assert len(repeats) > 5


def test_load_holds_a_few_bad_rows_of_every_kind(load: list[PageviewRow]) -> None:
    kinds = Counter()
    for user_id, url, viewed in load:
        kinds["null user"] += user_id is None
        kinds["null url"] += url is None
        kinds["empty url"] += url == ""
        kinds["blank url"] += url is not None and url != "" and url.strip() == ""
        kinds["null time"] += viewed is None
        kinds["future"] += viewed is not None and viewed >= HOUR + timedelta(hours=2)
        kinds["before 2000"] += viewed is not None and viewed < datetime(2000, 1, 1)
    assert len(kinds) == 7
    assert all(0 < n < 0.02 * len(load) for n in kinds.values()), kinds


def test_pageviews_come_mostly_from_listed_users() -> None:
    sim = Simulator(NOISY)
    listed = _homes(sim, HOUR.date())
    users = [r[0] for r in _load(sim, HOUR) if r[0] is not None]
    known = sum(user in listed for user in users)
    assert 0.95 < known / len(users) < 1.0


def test_a_day_of_loads_follows_the_daily_curve() -> None:
    sim = Simulator(NOISY)
    with duckdb.connect() as con:
        counts = [
            sim.write_pageviews_load(con, datetime(2024, 1, 1) + h * HOUR_1) for h in range(24)
        ]
    assert 0.85 * NOISY.pageviews_per_day < sum(counts) < 1.15 * NOISY.pageviews_per_day
    assert max(counts[2:5]) < 0.5 * min(counts[18:22])


def test_postcodes_change_between_days_only_for_movers() -> None:
    sim = Simulator(NOISY)
    days = [_homes(sim, START + timedelta(days=n)) for n in range(3)]
    for before, after in zip(days, days[1:], strict=False):
        both = before.keys() & after.keys()
        moved = sum(before[user] != after[user] for user in both)
        assert 0.3 * NOISY.move_share < moved / len(both) < 2 * NOISY.move_share


def test_users_register_and_get_deleted() -> None:
    sim = Simulator(NOISY)
    first, second, third = (_ids(sim, START + timedelta(days=n)) for n in range(3))
    assert max(second) > max(first) >= NOISY.users * 0.99
    assert len(second - first) > 0.5 * NOISY.users * NOISY.new_user_share
    deleted = first - second
    assert len(deleted) > 0.5 * NOISY.users * NOISY.delete_share
    assert not deleted & third


def test_snapshot_holds_messy_bad_and_duplicate_rows() -> None:
    with duckdb.connect() as con:
        Simulator(NOISY).write_users_snapshot(con, START + timedelta(days=1))
        rows = _users(con)
    postcodes = [p for _, p in rows if p]
    per_id = Counter(i for i, _ in rows if i is not None)
    twice = {i for i, n in per_id.items() if n > 1}
    by_id: dict[int, set[str | None]] = {}
    for i, p in rows:
        if i in twice:
            by_id.setdefault(i, set()).add(p)
    kinds = {
        "null id": sum(i is None for i, _ in rows),
        "null postcode": sum(p is None for _, p in rows),
        "empty postcode": sum(p == "" for _, p in rows),
        "blank postcode": sum(p != "" and p.strip() == "" for p in postcodes),
        "lower case": sum(p != p.upper() for p in postcodes),
        "inner spaces": sum("  " in p.strip() for p in postcodes),
        "outer whitespace": sum(p.strip() != "" and p != p.strip() for p in postcodes),
        "conflicting twice": sum(len(ps) > 1 for ps in by_id.values()),
        "identical twice": sum(len(ps) == 1 for ps in by_id.values()),
    }
    assert all(0 < n < 0.05 * len(rows) for n in kinds.values()), kinds
    assert len({p.strip().upper() for p in postcodes}) > 50


def test_writing_a_load_replaces_the_previous_one() -> None:
    sim = Simulator(NOISY)
    with duckdb.connect() as con:
        sim.write_pageviews_load(con, HOUR)
        written = sim.write_pageviews_load(con, HOUR + HOUR_1)
        assert _pageviews(con) == _load(sim, HOUR + HOUR_1)
        assert len(_pageviews(con)) == written
        sim.write_users_snapshot(con, START)
        written = sim.write_users_snapshot(con, START + timedelta(days=1))
        assert len(_users(con)) == written


def test_uses_landing_tables_that_already_exist() -> None:
    sim = Simulator(NOISY)
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA landing")
        con.execute("CREATE TABLE landing.users_extract (postcode VARCHAR, id BIGINT)")
        con.execute(
            "CREATE TABLE landing.pageviews_extract"
            " (pageview_datetime TIMESTAMP, url VARCHAR, user_id BIGINT, note VARCHAR DEFAULT 'x')"
        )
        con.execute("INSERT INTO landing.users_extract VALUES ('OLD 1AA', -1)")
        assert sim.write_users_snapshot(con, START) == len(_users(con))
        assert sim.write_pageviews_load(con, HOUR) == len(_pageviews(con))
        assert con.execute(
            "SELECT count(*) FROM landing.users_extract WHERE id = -1"
        ).fetchall() == [(0,)]
        assert con.execute("SELECT DISTINCT note FROM landing.pageviews_extract").fetchall() == [
            ("x",)
        ]


def test_creates_landing_tables_with_the_agreed_columns() -> None:
    sim = Simulator(SimulationConfig(users=1, pageviews_per_day=0, days=1))
    with duckdb.connect() as con:
        assert sim.write_pageviews_load(con, datetime(2024, 1, 1)) == 0
        sim.write_users_snapshot(con, START)
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'landing' ORDER BY table_name, ordinal_position"
        ).fetchall()
    assert columns == [
        ("pageviews_extract", "user_id", "BIGINT"),
        ("pageviews_extract", "url", "VARCHAR"),
        ("pageviews_extract", "pageview_datetime", "TIMESTAMP"),
        ("users_extract", "id", "BIGINT"),
        ("users_extract", "postcode", "VARCHAR"),
    ]


def test_events_follow_production_order() -> None:
    events = list(Simulator(SimulationConfig(days=2)).events())
    assert len(events) == 50
    assert events[0] == ("users", START)
    assert events[1:25] == [
        Event("pageviews", datetime(2024, 1, 1) + h * HOUR_1) for h in range(24)
    ]
    assert events[25] == ("users", date(2024, 1, 2))
    assert events[-1] == ("pageviews", datetime(2024, 1, 2, 23))


@pytest.mark.parametrize(
    "change",
    [{"users": 0}, {"days": 0}, {"move_share": 1.5}, {"bad_row_share": -0.1}],
)
def test_config_rejects_impossible_values(change: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**change)


def test_writes_reject_keys_outside_the_simulation() -> None:
    sim = Simulator(NOISY)
    with duckdb.connect() as con:
        with pytest.raises(ValueError):
            sim.write_pageviews_load(con, datetime(2024, 1, 1, 10, 30))
        with pytest.raises(ValueError):
            sim.write_users_snapshot(con, START - timedelta(days=1))
