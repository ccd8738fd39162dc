"""What one stage or one process costs: wall seconds and peak RSS."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
# Writing 5 resets the kernel's high-water mark of the process's RSS (VmHWM) to its RSS now.
_RESET_PEAK_RSS = "5"


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
    """One stage's cost: wall seconds and the process's peak RSS during it."""

    seconds: float = 0.0
    peak_rss_bytes: int = 0
    rss_windowed: bool = True


@contextmanager
def measured() -> Iterator[Measurement]:
    """Measures the block: its wall time and the process's peak RSS."""
    result = Measurement()
    result.rss_windowed = _reset_peak_rss()
    started = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - started
    result.peak_rss_bytes = _peak_rss_bytes(result.rss_windowed)


@dataclass(frozen=True)
class Stage:
    """One measured stage of one load; what its rows count is said by the report's legend."""

    name: str
    rows: int | None
    seconds: float
    peak_rss_bytes: int | None = None

    @classmethod
    def of(cls, name: str, rows: int | None, cost: Measurement) -> Stage:
        return cls(name, rows, cost.seconds, cost.peak_rss_bytes)


@dataclass(frozen=True)
class ProcessRun:
    """One child process: its wall time from start to exit, its peak RSS (the kernel's rusage
    of that child alone), its exit code and what it printed."""

    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str

    def stderr_tail(self, lines: int = 30) -> str:
        return "\n".join(self.stderr.rstrip().splitlines()[-lines:])


# Runs a command and writes its wall seconds, peak RSS and exit code as JSON to argv[1]. A child
# started straight from the bench would report the bench's own peak RSS as its own: Linux
# carries the RSS high-water mark of the image a process replaces at exec into its ru_maxrss,
# and a vforked child's image before exec is the bench's. Started from this small interpreter
# (no site, about 10 MiB), the command's ru_maxrss is its own.
_LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "returncode": code}, out)
sys.exit(code if 0 <= code < 256 else 1)
"""


def run_process(argv: Sequence[str], env: Mapping[str, str], folder: Path) -> ProcessRun:
    """Runs ARGV (its first item a path) to its end with ENV, and measures it: its wall time from
    start to exit and its peak RSS, taken by a small launcher process with wait4. Its output goes
    through files in FOLDER."""
    out, err, measured = (folder / f"process.{name}" for name in ("stdout", "stderr", "json"))
    measured.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(measured), *argv]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(launcher, stdout=stdout, stderr=stderr, env=dict(env))
        _, status, _ = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    # Reaped here: Popen must not wait for it again.
    process.returncode = os.waitstatus_to_exitcode(status)
    # The launcher's own measures; without them (it failed to start the command), its own.
    result = {"seconds": seconds, "maxrss_kib": 0, "returncode": process.returncode}
    if measured.exists():
        result = json.loads(measured.read_text(encoding="utf-8"))
    return ProcessRun(
        result["seconds"],
        # ru_maxrss is in KiB on Linux.
        result["maxrss_kib"] * 1024,
        result["returncode"],
        out.read_text(encoding="utf-8", errors="replace"),
        err.read_text(encoding="utf-8", errors="replace"),
    )
