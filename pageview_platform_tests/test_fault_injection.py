"""An ingest SIGKILLed at a write point leaves the previous state, and a retry finishes it.

In CI each scenario is killed at a sample of its write points covering every kind once (see
faults.sample); `make soak` kills every scenario at every write point and prints the tally.
docs/reliability.md holds the figures.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from pageview_platform_tests.faults import SCENARIOS, FaultSweep, KillServer, Tally, sample


@pytest.fixture
def server() -> Iterator[KillServer]:
    server = KillServer()
    yield server
    server.close()


def test_killed_at_each_kind_of_write_point_a_load_and_a_snapshot_recover(
    tmp_path: Path, server: KillServer
) -> None:
    tally = Tally()
    covered: set[str] = set()
    for name in ("pageviews_load", "users_snapshot"):
        sweep = FaultSweep(SCENARIOS[name], tmp_path / name, server)
        for k in sample(sweep.points, covered):
            sweep.kill_at(k, tally)
    print(tally.table())
    assert set(tally.injected) == covered
    assert tally.survived == tally.injected


@pytest.mark.soak
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_killed_at_every_write_point_the_ingest_recovers(
    tmp_path: Path, server: KillServer, name: str
) -> None:
    tally = Tally()
    sweep = FaultSweep(SCENARIOS[name], tmp_path, server)
    # The killed ingest finds the schema its set-up deployed, so it has no `deploy` point
    # (docs/reliability.md); every point it has is swept.
    for k in range(1, len(sweep.points) + 1):
        sweep.kill_at(k, tally)
    print(f"\n{name}: {len(sweep.points)} write points\n{tally.table()}")
    assert tally.survived == tally.injected
