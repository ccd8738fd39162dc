"""`make dashboard`: a Dash page over the published BI database, both answers side by side.

Every callback opens a new connection to the published file, read-only, and closes it before it
answers, so the page always shows the latest publish and never holds the file open.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import duckdb
import plotly.graph_objects as go
import requests
from dash import Dash, Input, Output, State, dcc, html

from pageview_platform.settings import REPO_ROOT, SettingsError, get_settings
from pageview_platform.ui_check import INSTALL_HINT, Browser, UICheckError, browser, find_browser
from pageview_platform.ui_process import free_port, stop_process_group

TITLE = "Pageviews per postcode"
QUESTIONS = {
    "postcode_at_view": "By postcode at the time of the view",
    "current_postcode": "By current postcode",
}
COLOURS = {"postcode_at_view": "#4c78a8", "current_postcode": "#e45756"}
# Where both answers agree the lines overlap; the dashed one stays visible over the solid one.
DASHES = {"postcode_at_view": "solid", "current_postcode": "dash"}
GRAINS = {"hour": "Hour", "day": "Day", "month": "Month"}
DEFAULT_GRAIN = "day"
TOP_N = 10
# Enough for any postcode picker a person scrolls; the top ones come first.
MAX_POSTCODE_OPTIONS = 1000
SCREENSHOT_VIEWPORT = (1440, 870)
GRAPH_CONFIG = {"displayModeBar": False}
TICK_FORMATS = {"hour": "%d %b %H:00", "day": "%d %b %Y", "month": "%b %Y"}
# One tick a day or a month (plotly's own choice for hours is fine).
TICK_STEPS = {"hour": None, "day": 86_400_000, "month": "M1"}

# The six published views as one relation, so every query below picks its question and grain
# with bound parameters. A temporary view lives in the connection's memory: read-only is enough.
ANSWERS_VIEW = """
CREATE TEMP VIEW answers AS
SELECT 'postcode_at_view' AS question, 'hour' AS grain, period_start, postcode, pageviews
FROM bi.pageviews_by_postcode_at_view_hourly
UNION ALL
SELECT 'postcode_at_view', 'day', period_start, postcode, pageviews
FROM bi.pageviews_by_postcode_at_view_daily
UNION ALL
SELECT 'postcode_at_view', 'month', period_start, postcode, pageviews
FROM bi.pageviews_by_postcode_at_view_monthly
UNION ALL
SELECT 'current_postcode', 'hour', period_start, postcode, pageviews
FROM bi.pageviews_by_current_postcode_hourly
UNION ALL
SELECT 'current_postcode', 'day', period_start, postcode, pageviews
FROM bi.pageviews_by_current_postcode_daily
UNION ALL
SELECT 'current_postcode', 'month', period_start, postcode, pageviews
FROM bi.pageviews_by_current_postcode_monthly
"""
PERIODS = """
SELECT DISTINCT period_start FROM answers WHERE grain = $grain ORDER BY period_start DESC
"""
TOP_POSTCODES = """
SELECT postcode, pageviews
FROM answers
WHERE question = $question AND grain = $grain AND period_start = $period
ORDER BY pageviews DESC, postcode
LIMIT $top_n
"""
# The period's postcodes, its top one by postcode at the time of the view first.
PERIOD_POSTCODES = """
SELECT postcode
FROM answers
WHERE grain = $grain AND period_start = $period
GROUP BY postcode
ORDER BY max(pageviews) FILTER (WHERE question = 'postcode_at_view') DESC NULLS LAST, postcode
LIMIT $limit
"""
SERIES = """
SELECT question, period_start, pageviews
FROM answers
WHERE grain = $grain AND postcode = $postcode
ORDER BY question, period_start
"""
ATTACH = "ATTACH $path AS bi (READ_ONLY)"
HAS_PUBLICATION = """
SELECT count(*) FROM information_schema.tables
WHERE table_catalog = 'bi' AND table_schema = 'main' AND table_name = 'publication'
"""
PUBLICATION = "SELECT * FROM bi.publication LIMIT 1"

_PAGE = {
    "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "color": "#1f2933",
    "maxWidth": "1400px",
    "margin": "0 auto",
    "padding": "12px 20px",
}
_CARD = {
    "border": "1px solid #e4e7eb",
    "borderRadius": "8px",
    "padding": "10px 14px",
    "background": "#ffffff",
}
_CELL = {"padding": "3px 10px", "borderBottom": "1px solid #eef0f2"}
_NUMBER = {**_CELL, "textAlign": "right", "fontVariantNumeric": "tabular-nums"}


class MissingDatabase(RuntimeError):
    """No published BI database at the configured path."""


def bi_database_path() -> Path:
    """The published BI database (PAGEVIEW_BI_DUCKDB_PATH), read afresh at each request."""
    return get_settings(check_start_date=False).bi_duckdb_path


@contextmanager
def published_database() -> Iterator[duckdb.DuckDBPyConnection]:
    """A new connection to the published file, read-only, closed on exit.

    The file's tables are in its `main` schema (warehouse/publish.py); attached as `bi`,
    whatever the file is called, they read as `bi.<view>`, the warehouse's names.
    """
    path = bi_database_path()
    if not path.exists():
        raise MissingDatabase(f"No published BI database at {path}: run `make demo` first.")
    with duckdb.connect() as connection:
        connection.execute(ATTACH, {"path": str(path)})
        yield connection


def read(query: str, **params: object) -> list[tuple[Any, ...]]:
    """Runs QUERY over the six views on a new connection to the published file."""
    with published_database() as connection:
        connection.execute(ANSWERS_VIEW)
        return connection.execute(query, params).fetchall()


def _publication() -> dict[str, Any]:
    """The file's `bi.publication` row by column (empty when it records none)."""
    with published_database() as connection:
        if connection.execute(HAS_PUBLICATION).fetchone() != (1,):
            return {}
        cursor = connection.execute(PUBLICATION)
        row = cursor.fetchone()
        columns = [column[0] for column in cursor.description or ()]
    return {} if row is None else dict(zip(columns, row, strict=True))


def published_at() -> str | None:
    """The publication's time, when the file records one (its `bi.publication` row)."""
    value = _publication().get("published_at")
    if value is None:
        return None
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if isinstance(value, datetime) else str(value)


def current_postcode_note(grain: str, period: datetime) -> str | None:
    """Why the current-postcode answer has no rows for PERIOD, when it is an hour or a day before
    where the file keeps them (README, "The two questions")."""
    hours_from = _publication().get("current_postcode_hours_from")
    if grain == "month" or not isinstance(hours_from, datetime) or period >= hours_from:
        return None
    return (
        f"By current postcode, hours and days are kept from {hours_from:%Y-%m-%d} on;"
        " choose Month for earlier periods."
    )


def period_label(grain: str, period: datetime) -> str:
    """How the page names one hour, day or month."""
    formats = {"hour": "%Y-%m-%d %H:00 UTC", "day": "%Y-%m-%d", "month": "%Y-%m"}
    return period.strftime(formats[grain])


def top_table(
    question: str, rows: Sequence[tuple[str, int]], note: str | None = None
) -> html.Table:
    """The top postcodes with their exact numbers (id `top-<question>`, read by the test), or
    NOTE when it says why there are none."""
    header = html.Tr(
        [html.Th("#", style=_CELL), html.Th("Postcode", style=_CELL)]
        + [html.Th("Pageviews", style={**_NUMBER, "textAlign": "right"})]
    )
    body = [
        html.Tr(
            [
                html.Td(str(rank), style={**_CELL, "color": "#7b8794"}),
                html.Td(postcode, style=_CELL),
                html.Td(f"{pageviews:,}", style=_NUMBER),
            ]
        )
        for rank, (postcode, pageviews) in enumerate(rows, start=1)
    ]
    if note is not None and not rows:
        body = [html.Tr(html.Td(note, colSpan=3, style={**_CELL, "color": "#7b8794"}))]
    return html.Table(
        [html.Thead(header), html.Tbody(body)],
        id=f"top-{question}",
        style={"borderCollapse": "collapse", "fontSize": "14px", "width": "100%"},
    )


def top_figure(
    question: str, rows: Sequence[tuple[str, int]], note: str | None = None
) -> go.Figure:
    """A horizontal bar per top postcode, the largest on top; with no rows, no axes but NOTE
    (why there are none) or that the period has no pageviews."""
    if not rows:
        figure = go.Figure()
        figure.update_layout(
            height=300,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            xaxis={"visible": False},
            yaxis={"visible": False},
            plot_bgcolor="white",
            annotations=[
                {
                    # Plotly does not wrap an annotation: its lines are broken here.
                    "text": "<br>".join(textwrap.wrap(note or "No pageviews in this period", 40)),
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"color": "#7b8794", "size": 14},
                }
            ],
        )
        return figure
    figure = go.Figure(
        go.Bar(
            x=[pageviews for _, pageviews in rows],
            y=[postcode for postcode, _ in rows],
            orientation="h",
            marker_color=COLOURS[question],
            hovertemplate="%{y}: %{x:,} pageviews<extra></extra>",
        )
    )
    figure.update_layout(
        height=300,
        margin={"l": 90, "r": 10, "t": 10, "b": 30},
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"title": None, "tickformat": ","},
        plot_bgcolor="#f7f9fb",
    )
    return figure


def series_figure(grain: str, rows: Sequence[tuple[str, datetime, int]]) -> go.Figure:
    """One postcode's pageviews per period, a line for each answer."""
    figure = go.Figure()
    for question, name in QUESTIONS.items():
        points = [(period, pageviews) for asked, period, pageviews in rows if asked == question]
        figure.add_trace(
            go.Scatter(
                x=[period for period, _ in points],
                y=[pageviews for _, pageviews in points],
                name=name,
                mode="lines+markers",
                line={"color": COLOURS[question], "dash": DASHES[question], "width": 2.5},
            )
        )
    figure.update_layout(
        height=300,
        margin={"l": 60, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        xaxis={"tickformat": TICK_FORMATS[grain], "dtick": TICK_STEPS[grain]},
        yaxis={"title": "pageviews", "tickformat": ",", "rangemode": "tozero"},
        plot_bgcolor="#f7f9fb",
    )
    return figure


def _control(label: str, component: Any, width: str) -> html.Div:
    return html.Div(
        [html.Label(label, style={"fontWeight": 600, "fontSize": "13px"}), component],
        style={"width": width, "display": "flex", "flexDirection": "column", "gap": "4px"},
    )


def _question_column(question: str) -> html.Div:
    return html.Div(
        [
            html.H3(QUESTIONS[question], style={"margin": "0 0 6px", "fontSize": "17px"}),
            html.Div(
                [
                    html.Div(
                        dcc.Graph(id=f"bars-{question}", config=GRAPH_CONFIG), style={"flex": "3"}
                    ),
                    html.Div(id=f"table-{question}", style={"flex": "2"}),
                ],
                style={"display": "flex", "gap": "12px", "alignItems": "flex-start"},
            ),
        ],
        style={**_CARD, "flex": "1", "minWidth": "0"},
    )


def layout() -> html.Div:
    """The page, read afresh at each load; a clear message when nothing is published yet."""
    path = bi_database_path()
    try:
        published = published_at()
        read(PERIODS, grain=DEFAULT_GRAIN)
    except (MissingDatabase, duckdb.Error) as err:
        message = str(err) if isinstance(err, MissingDatabase) else f"Cannot read {path}: {err}"
        return html.Div(
            [html.H1(TITLE), html.P(message, id="message", style={"fontSize": "18px"})],
            style=_PAGE,
        )
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    source = f"{shown}" + (f", published {published}" if published else "")
    controls = html.Div(
        [
            _control(
                "Grain",
                dcc.RadioItems(
                    id="grain",
                    options=[{"label": label, "value": grain} for grain, label in GRAINS.items()],
                    value=DEFAULT_GRAIN,
                    inline=True,
                    style={"display": "flex", "gap": "14px", "whiteSpace": "nowrap"},
                ),
                "250px",
            ),
            _control("Period", dcc.Dropdown(id="period", clearable=False), "260px"),
            _control("Postcode for the series", dcc.Dropdown(id="postcode"), "260px"),
        ],
        style={"display": "flex", "gap": "28px", "alignItems": "flex-end", "margin": "8px 0"},
    )
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            html.Div(
                [
                    html.H1(TITLE, style={"margin": "0", "fontSize": "24px"}),
                    html.Span(source, id="source", style={"color": "#7b8794", "fontSize": "13px"}),
                ],
                style={"display": "flex", "alignItems": "baseline", "gap": "16px"},
            ),
            controls,
            html.H2(id="period-heading", style={"fontSize": "19px", "margin": "10px 0 6px"}),
            html.Div(
                [_question_column(question) for question in QUESTIONS],
                style={"display": "flex", "gap": "14px"},
            ),
            html.Div(
                [
                    html.H3(id="series-heading", style={"margin": "0 0 6px", "fontSize": "17px"}),
                    dcc.Graph(id="series", config=GRAPH_CONFIG),
                ],
                style={**_CARD, "marginTop": "14px"},
            ),
        ],
        style=_PAGE,
    )


def create_app() -> Dash:
    """The Dash app: the grain picks the periods; grain and period the top postcodes; grain and
    postcode the series."""
    app = Dash(__name__, title=TITLE)
    app.layout = layout

    @app.callback(
        Output("period", "options"),
        Output("period", "value"),
        Input("grain", "value"),
        State("url", "search"),
    )
    def periods(grain: str, search: str | None) -> tuple[list[dict[str, str]], str | None]:
        starts = [period for (period,) in read(PERIODS, grain=grain)]
        options = [
            {"label": period_label(grain, period), "value": period.isoformat()} for period in starts
        ]
        # A link may name a day (?period=2024-01-31); otherwise the latest period.
        asked = parse_qs((search or "").lstrip("?")).get("period", [""])[0]
        values = [option["value"] for option in options]
        chosen = next((value for value in values if asked and value.startswith(asked)), None)
        if grain != DEFAULT_GRAIN or chosen is None:
            chosen = next(iter(values), None)
        return options, chosen

    @app.callback(
        Output("period-heading", "children"),
        *(Output(f"bars-{question}", "figure") for question in QUESTIONS),
        *(Output(f"table-{question}", "children") for question in QUESTIONS),
        Output("postcode", "options"),
        Output("postcode", "value"),
        Input("period", "value"),
        State("grain", "value"),
        State("postcode", "value"),
    )
    def top_postcodes(period: str | None, grain: str, chosen: str | None) -> tuple[Any, ...]:
        if period is None:
            empty = [top_figure(q, [], "Nothing published yet") for q in QUESTIONS]
            return (
                "Nothing published yet",
                *empty,
                *(top_table(q, []) for q in QUESTIONS),
                [],
                None,
            )
        start = datetime.fromisoformat(period)
        tops = {
            question: read(TOP_POSTCODES, question=question, grain=grain, period=start, top_n=TOP_N)
            for question in QUESTIONS
        }
        postcodes = [
            postcode
            for (postcode,) in read(
                PERIOD_POSTCODES, grain=grain, period=start, limit=MAX_POSTCODE_OPTIONS
            )
        ]
        heading = f"Top {TOP_N} postcodes, {GRAINS[grain].lower()} {period_label(grain, start)}"
        notes = {"current_postcode": current_postcode_note(grain, start)}
        return (
            heading,
            *(top_figure(question, rows, notes.get(question)) for question, rows in tops.items()),
            *(top_table(question, rows, notes.get(question)) for question, rows in tops.items()),
            postcodes,
            chosen if chosen in postcodes else next(iter(postcodes), None),
        )

    @app.callback(
        Output("series-heading", "children"),
        Output("series", "figure"),
        Input("postcode", "value"),
        Input("grain", "value"),
    )
    def series(postcode: str | None, grain: str) -> tuple[str, go.Figure]:
        if postcode is None:
            return "Pick a postcode", series_figure(grain, [])
        rows = read(SERIES, grain=grain, postcode=postcode)
        return f"{postcode}: pageviews per {grain}, both answers", series_figure(grain, rows)

    return app


@contextmanager
def running(env: Mapping[str, str], log: Path, port: int | None = None) -> Iterator[str]:
    """Serves the dashboard in a child process with ENV added, its output in LOG; yields its URL
    once it answers and stops it on exit."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pageview_platform.dashboard", "--port", str(port)],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise UICheckError(
                    f"the dashboard exited with {process.returncode}: {log.read_text()[-2000:]}"
                )
            with suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise UICheckError("the dashboard did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        stop_process_group(process, 10)


_STATE_SCRIPT = "return [document.title, document.body ? document.body.innerText : ''];"


def wait_until_settled(session: Browser, timeout: float = 60) -> str:
    """Waits until no callback is pending (Dash titles the page "Updating..." meanwhile) and the
    text stops changing; returns the text."""
    deadline = time.monotonic() + timeout
    previous: list[str] | None = None
    steady = 0
    while True:
        time.sleep(0.3)
        state = session.call("POST", "/execute/sync", {"script": _STATE_SCRIPT, "args": []})
        steady = steady + 1 if state == previous and state[0] == TITLE else 0
        if steady >= 3:
            return str(state[1])
        if time.monotonic() > deadline:
            raise UICheckError(f"the dashboard did not settle within {timeout:.0f} s")
        previous = state


def screenshot(png: Path, day: str | None = None) -> None:
    """Serves the dashboard on the configured BI database and saves a headless-Chromium PNG of
    DAY (YYYY-MM-DD; default the latest)."""
    with tempfile.TemporaryDirectory(prefix="dashboard-") as scratch:
        log = Path(scratch) / "dashboard.log"
        with running({}, log) as url, browser(SCREENSHOT_VIEWPORT, timeout=60) as session:
            link = f"?{urlencode({'period': day})}" if day else ""
            session.call("POST", "/url", {"url": url + link})
            wait_until_settled(session)
            png.parent.mkdir(parents=True, exist_ok=True)
            png.write_bytes(base64.b64decode(session.call("GET", "/screenshot")))


def main(argv: Sequence[str] | None = None) -> int:
    """Serves the dashboard, or with --screenshot saves a PNG of it."""
    parser = argparse.ArgumentParser(prog="dashboard", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the page here and exit")
    parser.add_argument("--day", help="the day the screenshot shows (YYYY-MM-DD; default latest)")
    args = parser.parse_args(argv)
    try:
        path = bi_database_path()
    except SettingsError as err:
        print(f"dashboard: {err}", file=sys.stderr)
        return 2
    if args.screenshot:
        if find_browser() is None:
            print(
                f"dashboard: chromium and chromedriver are not installed ({INSTALL_HINT})",
                file=sys.stderr,
            )
            return 1
        if not path.exists():
            print(
                f"dashboard: no published BI database at {path}: run `make demo` first",
                file=sys.stderr,
            )
            return 1
        try:
            screenshot(args.screenshot, args.day)
        except UICheckError as err:
            print(f"dashboard: {err}", file=sys.stderr)
            return 1
        print(args.screenshot)
        return 0
    print(f"Dashboard on http://{args.host}:{args.port}/ over {path}", flush=True)
    create_app().run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
