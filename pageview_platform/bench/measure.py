"""What one stage costs: wall seconds, the process's peak RSS, and DuckDB's own peak memory."""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
# Writing 5 resets the kernel's high-water mark of the process's RSS (VmHWM) to its RSS now.
_RESET_PEAK_RSS = "5"
SAMPLE_SECONDS = 0.02
_DUCKDB_MEMORY = "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"


def _reset_peak_rss() -> bool:
    """Starts a new peak-RSS window; False where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text(_RESET_PEAK_RSS)
    except OSError:
        return False
    return True


def _peak_rss_bytes(windowed: bool) -> int:
    """The peak RSS since the last reset, or over the process's life where resets are refused."""
    if windowed:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Measurement:
    """One stage's cost; peak_duckdb_bytes is None where DuckDB's memory was not sampled."""

    seconds: float = 0.0
    peak_rss_bytes: int = 0
    peak_duckdb_bytes: int | None = None
    rss_windowed: bool = True


class DuckDbMemory:
    """Samples DuckDB's memory use on a cursor of a connection from a background thread.

    The cursor shares the connection's database, so it sees every query the stage runs; it
    must be closed (`close`) before the connection is, or the database outlives its close.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._cursor = connection.cursor()
        self._lock = threading.Lock()
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="duckdb-memory", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        with self._lock:
            (used,) = self._cursor.execute(_DUCKDB_MEMORY).fetchone() or (0,)
            self._peak = max(self._peak, int(used or 0))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def reset(self) -> None:
        """Starts a new peak window at the memory in use now."""
        with self._lock:
            self._peak = 0
        self._sample()

    def peak(self) -> int:
        """The peak since the last reset, the memory in use now included."""
        self._sample()
        return self._peak

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._cursor.close()


@contextmanager
def measured(memory: DuckDbMemory | None = None) -> Iterator[Measurement]:
    """Measures the block: its wall time, peak RSS, and DuckDB's peak memory when sampled."""
    result = Measurement()
    result.rss_windowed = _reset_peak_rss()
    if memory is not None:
        memory.reset()
    started = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - started
    result.peak_rss_bytes = _peak_rss_bytes(result.rss_windowed)
    if memory is not None:
        result.peak_duckdb_bytes = memory.peak()


@dataclass(frozen=True)
class Stage:
    """One measured stage of one load; what its rows count is said by the report's legend."""

    name: str
    rows: int | None
    seconds: float
    peak_rss_bytes: int | None = None
    peak_duckdb_bytes: int | None = None

    @classmethod
    def of(cls, name: str, rows: int, cost: Measurement) -> Stage:
        return cls(name, rows, cost.seconds, cost.peak_rss_bytes, cost.peak_duckdb_bytes)
