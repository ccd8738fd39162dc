"""The bench's progress over its loads, on stderr: a rich bar on a terminal, else a line a load."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from pageview_platform.bench.floor import FLOOR
from pageview_platform.bench.runner import PRODUCTION, LoadResult
from pageview_platform.simulator import Event


def _fixed() -> Column:
    return Column(no_wrap=True)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _event(event: Event) -> str:
    key = event.key.isoformat() if event.kind == "users" else f"{event.key:%Y-%m-%dT%H}"
    return f"{event.kind} {key}"


def _last(load: LoadResult) -> str:
    return (
        f"production {load.sides[PRODUCTION].seconds:.1f} s,"
        f" floor {load.sides[FLOOR].seconds:.1f} s"
    )


class LoadProgress:
    """Told of each load's phase (generation, production, floor) and of each load's end."""

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None) -> None:
        self.total = total
        self.label = f"{label} " if label else ""
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self._bar: Progress | None = None
        if self.stream.isatty():
            # The current load and phase last: on a narrow terminal they are cut first.
            self._bar = Progress(
                TextColumn(f"{self.label}load", table_column=_fixed()),
                MofNCompleteColumn(table_column=_fixed()),
                BarColumn(bar_width=20, table_column=_fixed()),
                TimeElapsedColumn(table_column=_fixed()),
                TextColumn("ETA", table_column=_fixed()),
                TimeRemainingColumn(table_column=_fixed()),
                TextColumn("{task.fields[last]}", table_column=_fixed()),
                TextColumn(
                    "{task.description}",
                    table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
                ),
                console=Console(file=self.stream),
                expand=True,
            )
            self._task = self._bar.add_task("", total=total, last="")

    def __enter__(self) -> LoadProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def phase(self, index: int, event: Event, phase: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"· {_event(event)}: {phase}")

    def done(self, index: int, load: LoadResult) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, last=f"last load: {_last(load)}")
            return
        done = index + 1
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / done * (self.total - done)
        print(
            f"{self.label}load {done}/{self.total} {load.kind} {load.key}: {_last(load)};"
            f" elapsed {_clock(elapsed)}, ETA {_clock(remaining)}",
            file=self.stream,
            flush=True,
        )
