"""Layers import downward only: warehouse < assets < jobs and automation < CLI.

The code location (definitions.py and what it imports) never reaches the CLI's launcher.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import pageview_platform

PACKAGE = Path(pageview_platform.__file__).parent
ROOT = PACKAGE.parent

WAREHOUSE, ASSETS, JOBS, CLI = 0, 1, 2, 3
LAYER_NAMES = {WAREHOUSE: "warehouse", ASSETS: "assets", JOBS: "jobs/automation", CLI: "CLI"}

# Each module's layer, by the longest matching name (a package covers its modules).
LAYERS = {
    "pageview_platform": WAREHOUSE,
    "pageview_platform.settings": WAREHOUSE,
    "pageview_platform.partition_keys": WAREHOUSE,
    "pageview_platform.dagster_internals": WAREHOUSE,
    "pageview_platform.warehouse": WAREHOUSE,
    # The alert sink is a resource the assets use; its sensors read only the warehouse.
    "pageview_platform.alerts": WAREHOUSE,
    "pageview_platform.assets": ASSETS,
    "pageview_platform.checks": ASSETS,
    "pageview_platform.freshness": ASSETS,
    "pageview_platform.jobs": JOBS,
    "pageview_platform.planner": JOBS,
    "pageview_platform.orphaned_runs": JOBS,
    "pageview_platform.automation": JOBS,
    "pageview_platform.replay": JOBS,
    "pageview_platform.definitions": JOBS,
    "pageview_platform.cli": CLI,
    "pageview_platform.__main__": CLI,
    "pageview_platform.ingest": CLI,
    "pageview_platform.runs": CLI,
    "pageview_platform.replay_cli": CLI,
    "pageview_platform.start_date": CLI,
    "pageview_platform.demo": CLI,
    "pageview_platform.dashboard": CLI,
    "pageview_platform.live_demo": CLI,
    "pageview_platform.bench": CLI,
    "pageview_platform.simulator": CLI,
    "pageview_platform.ui_check": CLI,
    "pageview_platform.ui_process": CLI,
}
# What the code location must never import: the CLI's launcher and what drives it.
CLI_LAUNCHER = ("pageview_platform.runs", "pageview_platform.ingest", "pageview_platform.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int | None:
    name = module
    while name:
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    """Every platform module MODULE imports, at its top or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {name for name in found if name.split(".")[0] == "pageview_platform"}


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(module for module in MODULES if _layer(module) is None)
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_only_its_layer_and_below(module: str) -> None:
    own = _layer(module)
    assert own is not None, f"{module} has no layer"
    upward = sorted(
        f"{imported} ({LAYER_NAMES[layer]})"
        for imported in _imports(module, MODULES[module])
        if (layer := _layer(imported)) is not None and layer > own
    )
    assert not upward, f"{module} ({LAYER_NAMES[own]}) imports a higher layer: {upward}"


def test_loading_the_code_location_imports_no_cli_launcher() -> None:
    probe = (
        "import sys\n"
        "from pageview_platform.definitions import defs\n"
        "defs()\n"
        f"print(','.join(sorted(m for m in sys.modules if m in {CLI_LAUNCHER!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.strip()
    assert not loaded, f"loading the code location imported {loaded}"


# What a DuckDB run has no use for: the Snowflake stack, Slack, and the frame libraries (only
# the quarantine summary's I/O manager uses pandas, and only when it runs).
NOT_ON_DUCKDB = {
    "snowflake",
    "dagster_snowflake",
    "dagster_snowflake_pandas",
    "dagster_slack",
    "slack_sdk",
    "pandas",
    "pyarrow",
    "sqlglot",
}


def test_a_duckdb_ingest_imports_nothing_of_snowflake_slack_or_pandas(platform) -> None:
    platform.land_users([(1, "A1 1AA")])
    platform.ingest_users("2024-01-01")
    platform.land_pageviews([(1, "/home", datetime(2024, 1, 1, 10, 5))])
    # The CLI as a user runs it, in its own process; what it imported is listed at exit. The bare
    # `snowflake` namespace package is made at start-up by a .pth file: only its modules count.
    probe = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('IMPORTED:' + ','.join(sorted({m.split('.')[0] for m in"
        f" sys.modules if m != 'snowflake'}} & {NOT_ON_DUCKDB!r}))))\n"
        "sys.argv = ['pageview-platform', 'ingest-pageviews', '--hour', '2024-01-01T10']\n"
        "runpy.run_module('pageview_platform', run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert platform.query("SELECT count(*) FROM core.pageview_fact") == [(1,)]
    imported = result.stdout.rsplit("IMPORTED:", 1)[1].strip()
    assert not imported, f"a DuckDB ingest imported {imported}"
