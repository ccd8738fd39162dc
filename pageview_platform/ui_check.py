"""`make ui-check`: headless Chromium screenshots of the Dagster UI's asset graph and partitions."""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from pageview_platform.settings import REPO_ROOT, SettingsError, get_settings
from pageview_platform.ui_process import (
    DagsterUI,
    DagsterUIError,
    dagster_ui,
    free_port,
    stop_process_group,
)

OUT_DIR = REPO_ROOT / "docs" / "img"
# Large enough that the expanded asset graph draws full nodes (partition fill, checks).
VIEWPORT = (2560, 1600)
# The UI's colours (light theme, sRGB) in a partition bar: materialized green, missing grey.
MATERIALIZED_RGB = (46, 204, 129)
MISSING_RGB = (240, 241, 243)
_COLOUR_TOLERANCE = 12
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
)
INSTALL_HINT = "apt-get install chromium chromium-driver"


class UICheckError(RuntimeError):
    """A page did not render what it should, or the browser could not be driven."""


@dataclass(frozen=True)
class Page:
    """One screenshot: the file it goes to, the UI path, and the text it shows once loaded."""

    file_name: str
    path: str
    ready_text: str


@dataclass(frozen=True)
class Screenshot:
    """A PNG the browser wrote, with the page's visible text when it was taken."""

    path: Path
    url: str
    text: str


@dataclass(frozen=True)
class PartitionBar:
    """Pixel counts of a screenshot's partition bar: its green (materialized) and whole area."""

    materialized_pixels: int
    bar_pixels: int

    @property
    def filled(self) -> float:
        """The share of the bar drawn as materialized."""
        return self.materialized_pixels / self.bar_pixels if self.bar_pixels else 0.0


PARTITIONS_PAGE = Page(
    "ui-partitions.png", "/assets/core/pageview_fact?view=partitions", "Materialized ("
)


# Groups the asset-graph screenshot shows collapsed.
PATH_ONLY_COLLAPSED = {"bi", "ops"}


def asset_graph_page(groups: Sequence[str]) -> Page:
    """The global asset lineage with every group expanded (the UI's `expanded` query value)."""
    expanded = ",".join(f"global@global:{group}" for group in sorted(set(groups)))
    return Page("ui-asset-graph.png", f"/asset-groups?expanded={quote(expanded)}", "filled")


def find_browser() -> tuple[str, str] | None:
    """The paths of Chromium and its chromedriver, or None when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


class Browser:
    """One headless Chromium session, driven through chromedriver's WebDriver HTTP API."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Sends one WebDriver command to the session; returns its value."""
        response = requests.request(
            method, f"{self.endpoint}{path}", json=payload, timeout=self.timeout
        )
        value = response.json().get("value")
        if response.status_code != 200:
            raise UICheckError(
                f"WebDriver {method} {path} answered {response.status_code}: {value}"
            )
        return value

    def text(self) -> str:
        """The visible text of the current page."""
        return str(self.call("POST", "/execute/sync", {"script": _TEXT_SCRIPT, "args": []}))

    def screenshot(self, url: str, png: Path, ready_text: str) -> Screenshot:
        """Opens URL, waits until it shows READY_TEXT and stops changing, and saves a PNG."""
        self.call("POST", "/url", {"url": url})
        deadline = time.monotonic() + self.timeout
        previous = None
        while True:
            time.sleep(1)
            text = self.text()
            if ready_text in text and text == previous:
                break
            if time.monotonic() > deadline:
                raise UICheckError(
                    f"{url} did not show {ready_text!r} (and settle) within {self.timeout:.0f} s;"
                    f" it shows: {' '.join(text.split())[:500]!r}"
                )
            previous = text
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(base64.b64decode(self.call("GET", "/screenshot")))
        return Screenshot(png, url, text)


_TEXT_SCRIPT = "return document.body ? document.body.innerText : '';"


@contextmanager
def browser(viewport: tuple[int, int] = VIEWPORT, timeout: float = 90) -> Iterator[Browser]:
    """Starts chromedriver and a headless Chromium with a fresh profile; stops both on exit."""
    found = find_browser()
    if found is None:
        raise UICheckError(f"chromium and chromedriver are not installed ({INSTALL_HINT})")
    chromium, driver = found
    port = free_port()
    with ExitStack() as stack:
        profile = Path(tempfile.mkdtemp(prefix="ui-check-chromium-"))
        stack.callback(shutil.rmtree, profile, ignore_errors=True)
        process = subprocess.Popen(
            [driver, f"--port={port}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        stack.callback(stop_process_group, process, 10)
        base = f"http://127.0.0.1:{port}"
        _wait_for_driver(base, process)
        width, height = viewport
        options = {
            "binary": chromium,
            "args": [
                *CHROMIUM_ARGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
            ],
        }
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        answer = requests.post(
            f"{base}/session", json={"capabilities": capabilities}, timeout=timeout
        ).json()["value"]
        if "sessionId" not in answer:
            raise UICheckError(f"chromedriver could not start Chromium: {answer.get('message')}")
        session = Browser(f"{base}/session/{answer['sessionId']}", timeout)
        stack.callback(_quietly, session.call, "DELETE", "")
        # Headless Chromium's page area is the window less an invisible toolbar; the viewport is
        # set outright, so every screenshot is VIEWPORT pixels on any machine.
        session.call(
            "POST",
            "/goog/cdp/execute",
            {
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": {
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "mobile": False,
                },
            },
        )
        yield session


def _wait_for_driver(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UICheckError(f"chromedriver exited with {process.returncode} while starting")
        with suppress(requests.RequestException, ValueError, KeyError):
            if requests.get(f"{base}/status", timeout=2).json()["value"]["ready"]:
                return
        time.sleep(0.1)
    raise UICheckError(f"chromedriver did not answer within {timeout:.0f} s")


def _quietly(function: Callable[..., object], *args: object) -> None:
    """Calls FUNCTION, ignoring any error (a browser already gone needs no goodbye)."""
    with suppress(Exception):
        function(*args)


def capture(ui: DagsterUI, out_dir: Path = OUT_DIR) -> list[Screenshot]:
    """Screenshots the asset graph and the fact's partitions page of UI into OUT_DIR."""
    # The UI greets a new instance with a sign-up dialog over every page; this is its "Skip".
    ui.graphql("mutation UiCheckSkipNux { setNuxSeen }")
    groups = [
        node["groupName"] for node in ui.graphql("{ assetNodes { groupName } }")["assetNodes"]
    ]
    # The load's path expanded; the groups around it (what BI reads, the operator's summary)
    # stay collapsed boxes, or the whole graph shrinks until no node shows its status.
    path = [group for group in groups if group not in PATH_ONLY_COLLAPSED] or groups
    pages = (asset_graph_page(path), PARTITIONS_PAGE)
    with browser() as session:
        return [
            session.screenshot(f"{ui.url}{page.path}", out_dir / page.file_name, page.ready_text)
            for page in pages
        ]


def partition_bar(png: Path) -> PartitionBar:
    """Finds the partition bar (the tallest band of green or grey rows) and counts its pixels."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    top = rgb[: rgb.shape[0] // 2]
    green = (np.abs(top - MATERIALIZED_RGB) <= _COLOUR_TOLERANCE).all(axis=2).sum(axis=1)
    grey = (np.abs(top - MISSING_RGB) <= _COLOUR_TOLERANCE).all(axis=2).sum(axis=1)
    bar_rows = np.flatnonzero(green + grey >= top.shape[1] * 0.4)
    if bar_rows.size == 0:
        return PartitionBar(0, 0)
    # The bar is the tallest run of such rows; borders and panels share its grey.
    runs = np.split(bar_rows, np.flatnonzero(np.diff(bar_rows) > 1) + 1)
    run = max(runs, key=len)
    return PartitionBar(int(green[run].sum()), int((green[run] + grey[run]).sum()))


def partition_counts(text: str) -> tuple[int, int]:
    """(materialized, all) partitions as the partitions page states them."""
    materialized = re.search(r"Materialized \(([\d,]+)\)", text)
    selected = re.search(r"([\d,]+) Partitions? Selected", text)
    if materialized is None or selected is None:
        raise UICheckError("the partitions page does not state its partition counts")
    return int(materialized[1].replace(",", "")), int(selected[1].replace(",", ""))


def blank(png: Path) -> bool:
    """True when the image is a single colour (nothing rendered)."""
    from PIL import Image

    with Image.open(png) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1) or ()) == 1


def main(argv: Sequence[str] | None = None) -> int:
    """Starts the UI on the configured instance and warehouse, screenshots it, checks the bars."""
    parser = argparse.ArgumentParser(prog="ui-check", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the PNGs")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as err:
        print(f"ui-check: {err}", file=sys.stderr)
        return 2
    if find_browser() is None:
        print(
            f"ui-check: chromium and chromedriver are not installed ({INSTALL_HINT})",
            file=sys.stderr,
        )
        return 1
    if settings.warehouse == "duckdb" and not settings.duckdb_path.exists():
        print(
            f"ui-check: no warehouse at {settings.duckdb_path}: run `make demo` first",
            file=sys.stderr,
        )
        return 1
    env = {
        "DAGSTER_HOME": str(settings.dagster_home.resolve()),
        "PAGEVIEW_DUCKDB_PATH": str(settings.duckdb_path.resolve()),
    }
    print(f"Dagster instance {env['DAGSTER_HOME']}, warehouse {env['PAGEVIEW_DUCKDB_PATH']}")
    try:
        with dagster_ui(env, daemon=False) as ui:
            shots = capture(ui, args.out)
        for shot in shots:
            print(shot.path)
        graph, partitions = shots
        materialized, total = partition_counts(partitions.text)
    except (UICheckError, DagsterUIError) as err:
        print(f"ui-check: {err}", file=sys.stderr)
        return 1
    bar = partition_bar(partitions.path)
    print(
        f"core/pageview_fact: {materialized:,} of {total:,} partitions materialized;"
        f" the bar is {bar.filled:.1%} green"
    )
    problems = [f"{shot.path.name} is blank" for shot in shots if blank(shot.path)]
    if "pageview_fact" not in graph.text:
        problems.append("the asset graph does not show core/pageview_fact")
    if materialized == 0 or bar.materialized_pixels == 0:
        problems.append("the partition bar shows no materialized partition (run `make demo`)")
    for problem in problems:
        print(f"ui-check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
