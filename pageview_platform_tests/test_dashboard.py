"""The dashboard in headless Chromium over a small published BI database: it renders without
errors and shows the views' numbers, for the default grain and after the grain is switched."""

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import pytest

from pageview_platform import dashboard
from pageview_platform.ui_check import Browser, browser, find_browser
from pageview_platform.warehouse import publish as publishing
from pageview_platform.warehouse.duckdb import connect

pytestmark = pytest.mark.skipif(
    find_browser() is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)

POSTCODES = [f"T{number} {number}AB" for number in range(1, 13)]
# The last two hours of January and the first two days of February: two months, three days.
HOURS = [datetime(2024, 1, 31, 22) + timedelta(hours=offset) for offset in range(50)]
TABLE = "bi.pageviews_by_{question}_{grain}"
GRAIN_TABLES = {"hour": "hourly", "day": "daily", "month": "monthly"}
TRUNCATE = {
    "hour": lambda moment: moment,
    "day": lambda moment: moment.replace(hour=0),
    "month": lambda moment: moment.replace(day=1, hour=0),
}

# Records every console error and uncaught exception from the first script of each page on.
ERROR_HOOK = """
window.dashboardErrors = [];
const record = message => window.dashboardErrors.push(String(message));
const logError = console.error.bind(console);
console.error = (...args) => { record(args.join(' ')); logError(...args); };
window.addEventListener('error', event => record(event.message));
window.addEventListener('unhandledrejection', event => record(event.reason));
"""
STATE = """
const text = id => (document.getElementById(id) || {innerText: ''}).innerText;
const table = id => Array.from(document.querySelectorAll('#' + id + ' tbody tr'))
    .map(row => Array.from(row.cells).map(cell => cell.innerText.trim()));
const series = document.querySelector('#series .js-plotly-plot');
return {
    heading: text('period-heading'),
    series_heading: text('series-heading'),
    postcode_at_view: table('top-postcode_at_view'),
    current_postcode: table('top-current_postcode'),
    series: series && series.data ? series.data.map(trace => [trace.name, trace.x, trace.y]) : [],
    errors: window.dashboardErrors || ['the error hook did not run'],
};
"""


def hourly_pageviews(question: str) -> dict[tuple[datetime, str], int]:
    """Made-up answers, different for the two questions, with some postcodes absent some hours."""
    step = 3 if question == "postcode_at_view" else 5
    rows = {}
    for index, hour in enumerate(HOURS):
        for number, postcode in enumerate(POSTCODES, start=1):
            pageviews = (number * step + index * 7) % 17
            if pageviews:
                rows[hour, postcode] = pageviews
    return rows


def rolled_up(rows: dict[tuple[datetime, str], int], grain: str) -> dict[tuple[datetime, str], int]:
    totals: dict[tuple[datetime, str], int] = {}
    for (hour, postcode), pageviews in rows.items():
        key = (TRUNCATE[grain](hour), postcode)
        totals[key] = totals.get(key, 0) + pageviews
    return totals


@contextmanager
def attached(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """PATH attached read-only as `bi`, as a BI tool names it (tables in its `main` schema)."""
    with duckdb.connect() as connection:
        connection.execute("ATTACH ? AS bi (READ_ONLY)", [str(path)])
        yield connection


AGGREGATE = "agg.pageviews_by_{question}_{grain}"
PERIOD_COLUMN = {"hour": "pageview_hour", "day": "pageview_day", "month": "pageview_month"}
# Where the current-postcode hours and days start (ops.current_postcode_window): January's are
# answered by month only.
CURRENT_HOURS_FROM = datetime(2024, 2, 1)


def publish(path: Path) -> None:
    """The made-up answers written into a scratch warehouse's aggregates, then published to
    PATH by the platform's own publish, so the page reads the file BI tools get."""
    warehouse = path.with_name("warehouse.duckdb")
    with contextlib.closing(connect(warehouse, {}, date(2024, 1, 1))) as connection:
        for question in dashboard.QUESTIONS:
            hourly = hourly_pageviews(question)
            for grain, suffix in GRAIN_TABLES.items():
                rows = rolled_up(hourly, grain)
                if question == "current_postcode" and grain != "month":
                    rows = {key: n for key, n in rows.items() if key[0] >= CURRENT_HOURS_FROM}
                connection.execute(
                    f"INSERT INTO {AGGREGATE.format(question=question, grain=suffix)}"
                    f" ({PERIOD_COLUMN[grain]}, postcode, pageviews)"
                    " SELECT unnest(?), unnest(?), unnest(?)",
                    [
                        [period for period, _ in rows],
                        [code for _, code in rows],
                        list(rows.values()),
                    ],
                )
        connection.execute(
            "INSERT INTO ops.current_postcode_window VALUES (?)", [CURRENT_HOURS_FROM]
        )
        with freeze_publication_time(datetime(2024, 2, 3, 0, 5)):
            published = publishing.publish(connection, path)
    assert published.how == "new file"


@contextmanager
def freeze_publication_time(moment: datetime) -> Iterator[None]:
    """The publish's clock at MOMENT (UTC), so the page's "published" line is known."""
    clock = mock.Mock(wraps=datetime)
    clock.now.return_value = moment.replace(tzinfo=UTC)
    with mock.patch.object(publishing, "datetime", clock):
        yield


@dataclass(frozen=True)
class Views:
    """Reads the published file directly, as a BI tool would."""

    path: Path

    def rows(self, question: str, grain: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        table = TABLE.format(question=question, grain=GRAIN_TABLES[grain])
        with attached(self.path) as connection:
            return connection.execute(sql.format(table=table), params).fetchall()

    def latest(self, grain: str) -> datetime:
        return max(
            self.rows(question, grain, "SELECT max(period_start) FROM {table}")[0][0]
            for question in dashboard.QUESTIONS
        )

    def top(self, question: str, grain: str, period: datetime) -> list[list[str]]:
        """The period's top postcodes as the page's table rows: rank, postcode, pageviews."""
        rows = self.rows(
            question,
            grain,
            "SELECT postcode, pageviews FROM {table} WHERE period_start = ?",
            period,
        )
        ranked = sorted(rows, key=lambda row: (-row[1], row[0]))[: dashboard.TOP_N]
        return [[str(rank), code, f"{views:,}"] for rank, (code, views) in enumerate(ranked, 1)]

    def series(self, question: str, grain: str, postcode: str) -> tuple[list[str], list[int]]:
        rows = self.rows(
            question,
            grain,
            "SELECT period_start, pageviews FROM {table} WHERE postcode = ? ORDER BY 1",
            postcode,
        )
        return [period.isoformat() for period, _ in rows], [pageviews for _, pageviews in rows]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Browser, Views, Path]]:
    """The dashboard over a fresh published file, open in headless Chromium."""
    path = tmp_path / "bi.duckdb"
    publish(path)
    log = tmp_path / "dashboard.log"
    env = {"PAGEVIEW_BI_DUCKDB_PATH": str(path)}
    with dashboard.running(env, log) as url, browser((1440, 1010), timeout=60) as session:
        session.call(
            "POST",
            "/goog/cdp/execute",
            {"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": ERROR_HOOK}},
        )
        session.call("POST", "/url", {"url": url})
        yield session, Views(path), log


def shown(session: Browser, heading: str) -> dict[str, Any]:
    """The page's state once it shows HEADING and no callback is pending."""
    deadline = datetime.now() + timedelta(seconds=60)
    while (state := session.call("POST", "/execute/sync", {"script": STATE, "args": []}))[
        "heading"
    ] != heading:
        assert datetime.now() < deadline, f"the page still shows {state['heading']!r}"
        time.sleep(0.2)
    dashboard.wait_until_settled(session)
    return session.call("POST", "/execute/sync", {"script": STATE, "args": []})


def click(session: Browser, css: str) -> None:
    found = session.call("POST", "/element", {"using": "css selector", "value": css})
    session.call("POST", f"/element/{next(iter(found.values()))}/click", {})


def assert_shows_the_views(state: dict[str, Any], views: Views, grain: str, postcode: str) -> None:
    """The latest period's top postcodes of both views, and POSTCODE's series in both."""
    period = views.latest(grain)
    for question in dashboard.QUESTIONS:
        assert state[question] == views.top(question, grain, period), question
        assert len(state[question]) == dashboard.TOP_N
    assert state["series_heading"].startswith(f"{postcode}: pageviews per {grain}")
    expected = [
        [name, *views.series(question, grain, postcode)]
        for question, name in dashboard.QUESTIONS.items()
    ]
    assert state["series"] == expected


def test_the_dashboard_shows_the_views_numbers_at_each_grain_without_errors(
    page: tuple[Browser, Views, Path],
) -> None:
    session, views, log = page
    day = shown(session, "Top 10 postcodes, day 2024-02-02")
    # The series starts with the period's top postcode by postcode at the time of the view, and
    # stays on it while the grain changes.
    postcode = day["postcode_at_view"][0][1]
    assert_shows_the_views(day, views, "day", postcode)
    # The two questions' answers differ in this data: each table reads its own view.
    assert day["postcode_at_view"] != day["current_postcode"]
    text = session.text()
    assert "published 2024-02-03 00:05:00 UTC" in text

    click(session, "#grain input[value='hour']")
    hour = shown(session, "Top 10 postcodes, hour 2024-02-02 23:00 UTC")
    assert_shows_the_views(hour, views, "hour", postcode)

    click(session, "#grain input[value='month']")
    month = shown(session, "Top 10 postcodes, month 2024-02")
    assert_shows_the_views(month, views, "month", postcode)

    assert month["errors"] == []
    served = log.read_text()
    assert "Traceback" not in served and '" 500 -' not in served, served


def test_without_a_published_database_the_page_says_to_run_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "bi.duckdb"
    monkeypatch.setenv("PAGEVIEW_BI_DUCKDB_PATH", str(missing))
    page = dashboard.layout()
    message = page.children[1]
    assert message.id == "message"
    assert message.children == f"No published BI database at {missing}: run `make demo` first."


def test_before_the_current_postcode_window_the_page_says_to_choose_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bi.duckdb"
    publish(path)
    monkeypatch.setenv("PAGEVIEW_BI_DUCKDB_PATH", str(path))
    with attached(path) as connection:
        (hours_from,) = connection.execute(
            "SELECT current_postcode_hours_from FROM bi.publication"
        ).fetchone()
    assert hours_from == CURRENT_HOURS_FROM
    note = dashboard.current_postcode_note("day", datetime(2024, 1, 31))
    assert note == (
        "By current postcode, hours and days are kept from 2024-02-01 on;"
        " choose Month for earlier periods."
    )
    assert dashboard.current_postcode_note("hour", datetime(2024, 1, 31, 23)) == note
    assert dashboard.current_postcode_note("day", CURRENT_HOURS_FROM) is None
    assert dashboard.current_postcode_note("month", datetime(2024, 1, 1)) is None
    # The day before the window: no current-postcode rows, so the table says why.
    assert (
        dashboard.read(
            dashboard.TOP_POSTCODES,
            question="current_postcode",
            grain="day",
            period=datetime(2024, 1, 31),
            top_n=dashboard.TOP_N,
        )
        == []
    )
    table = dashboard.top_table("current_postcode", [], note)
    (row,) = table.children[1].children
    assert row.children.children == note
    # With rows, the note is not shown.
    shown_rows = dashboard.top_table("current_postcode", [("T1 1AB", 3)], note).children[1]
    assert [cell.children for cell in shown_rows.children[0].children] == ["1", "T1 1AB", "3"]
    # The chart beside it draws no empty axes: it says the same, and bars when there are rows.
    empty = dashboard.top_figure("current_postcode", [], note)
    assert not empty.data
    assert not empty.layout.xaxis.visible and not empty.layout.yaxis.visible
    [annotation] = empty.layout.annotations
    assert annotation.text.replace("<br>", " ") == note
    [annotation] = dashboard.top_figure("current_postcode", [], None).layout.annotations
    assert annotation.text == "No pageviews in this period"
    [bars] = dashboard.top_figure("current_postcode", [("T1 1AB", 3)], note).data
    assert list(bars.y) == ["T1 1AB"] and list(bars.x) == [3]
