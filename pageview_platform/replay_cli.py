"""`replay-quarantine`: finds the quarantined rows the current rules accept and re-admits them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pageview_platform.planner import history_rebuild
from pageview_platform.replay import (
    REPLAY_PAGEVIEWS_QUARANTINE,
    REPLAY_USERS_QUARANTINE,
    released_by_run,
    replay_pageview_loads,
    replay_users_snapshots,
)
from pageview_platform.runs import RunLauncher, RunOutcome
from pageview_platform.settings import Settings
from pageview_platform.warehouse.resources import open_connection
from pageview_platform.warehouse.sql import read_sql


@dataclass
class ReplayReport:
    """What a replay did, for the operator."""

    users_rows: int = 0
    pageview_rows: int = 0
    snapshots: list[date] = field(default_factory=list)
    loads: list[datetime] = field(default_factory=list)
    runs: list[RunOutcome] = field(default_factory=list)


class QuarantineReplay:
    """Finds the quarantined rows the current rules accept and re-admits them, through runs."""

    def __init__(self, settings: Settings, launcher: RunLauncher) -> None:
        self._settings = settings
        self._launcher = launcher

    def run(self) -> ReplayReport:
        """Users first (history from the earliest such snapshot through the latest, then the
        release), then pageviews; every run is idempotent, so a failed replay is run again."""
        settings = self._settings
        report = ReplayReport()
        # Held across the runs, as an ingest does, so their steps share the open database.
        with open_connection(settings) as con:
            report.snapshots = [
                row[0].date()
                for row in con.execute(read_sql("replay/releasable_users_snapshots.sql")).fetchall()
            ]
            report.loads = [
                row[0]
                for row in con.execute(read_sql("replay/releasable_pageview_loads.sql")).fetchall()
            ]
            if report.snapshots:
                history = history_rebuild(con, report.snapshots[0])
                launch = self._launcher.run
                report.runs.append(launch(history.job_name, history.first, history.last))
                report.runs.append(
                    launch(
                        REPLAY_USERS_QUARANTINE,
                        ops_config={
                            replay_users_snapshots.name: {
                                "config": {"dates": [d.isoformat() for d in report.snapshots]}
                            }
                        },
                    )
                )
                report.users_rows = released_by_run(
                    con, read_sql("replay/users_released_by_run.sql"), report.runs[-1].run_id
                )
            if report.loads:
                report.runs.append(
                    self._launcher.run(
                        REPLAY_PAGEVIEWS_QUARANTINE,
                        ops_config={
                            replay_pageview_loads.name: {
                                "config": {"loads": [h.isoformat() for h in report.loads]}
                            }
                        },
                    )
                )
                report.pageview_rows = released_by_run(
                    con, read_sql("replay/pageviews_released_by_run.sql"), report.runs[-1].run_id
                )
        return report
