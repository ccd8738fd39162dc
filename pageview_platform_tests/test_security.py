"""No SQL is built by string formatting from anything a user, the CLI, the environment or a
landing row controls: a scan of the package's source, and hostile inputs that change nothing."""

import ast
import re
from datetime import datetime
from pathlib import Path

import pytest

from pageview_platform import cli
from pageview_platform_tests.harness import Platform
from pageview_platform_tests.test_rules import table_contents

PACKAGE = Path(__file__).resolve().parent.parent / "pageview_platform"
_SQL = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|ATTACH|DETACH|DESCRIBE|FROM|WHERE)\b"
)

# Formatted SQL allowed, by (file, function): each interpolates identifiers fixed in the code,
# never a value. Anything else that formats SQL fails the scan.
ALLOWED = {
    # Table names from the asset key, and a SELECT read from a .sql file.
    ("warehouse/duckdb.py", "handle_output"): "table and file SQL from the code",
    ("warehouse/duckdb.py", "columns"): "DESCRIBE of the table named by the asset key",
    # Snowflake: every name passes identifier() (a plain-identifier check) before it is
    # interpolated; partition bounds are bound values (_slice_where).
    ("warehouse/snowflake.py", "bi_grants"): "database, role, warehouse names via identifier()",
    ("warehouse/snowflake.py", "delete_table_slice"): "table via identifier(), bound bounds",
    ("warehouse/snowflake.py", "_select"): "table and columns via identifier(), bound bounds",
    ("warehouse/snowflake.py", "rows_in_slice"): "table via identifier(), bound bounds",
    ("warehouse/snowflake.py", "handle_output"): "table, columns, staging via identifier()",
    # An error message quoting the parsed query, not a statement.
    ("warehouse/dialect.py", "_insert_by_name"): "error message only",
    # The partition predicate Dagster builds from the run's TimeWindow (datetimes, not text).
    ("warehouse/duckdb.py", "_slice_row_count"): "Dagster's own partition SELECT",
    # raw/core table and key column names passed as literals by Ingest.users/pageviews.
    ("ingest.py", "_load_counts"): "table and column names from this module",
    # View names from the ANSWER_VIEWS constant.
    ("bench/runner.py", "differing_rows"): "view names from a constant",
    # The attach alias, a module constant; the path itself is a bound parameter.
    ("bench/baseline.py", "capture"): "WAREHOUSE_ALIAS constant",
    ("bench/baseline.py", "copy"): "WAREHOUSE_ALIAS constant",
    # The simulator writes test data from its own config: table and column names from its
    # module, counts and seeds as ints (argparse-typed), never text from outside.
    ("simulator/simulator.py", "_reload"): "landing table and columns from the simulator",
    ("simulator/pageviews.py", "_late_rows_sql"): "ints from SimulationConfig",
    ("simulator/pageviews.py", "_pairs_sql"): "ints from SimulationConfig",
    ("simulator/pageviews.py", "pageviews_load_sql"): "ints from SimulationConfig",
    ("simulator/users.py", "users_snapshot_sql"): "ints from SimulationConfig",
}


def _sql_text(node: ast.AST) -> str:
    """The literal text of a formatting expression, to tell SQL from other messages."""
    return " ".join(
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )


def _formats(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(value, ast.FormattedValue) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return any(
            isinstance(side, ast.Constant | ast.JoinedStr) for side in (node.left, node.right)
        )
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "replace", "join")
        and isinstance(node.func.value, ast.Constant | ast.Name)
    )


def formatted_sql() -> set[tuple[str, str, int]]:
    """(file, enclosing function, line) of every expression that formats SQL-looking text."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if _formats(node) and _SQL.search(_sql_text(node)):
                    found.add((str(path.relative_to(PACKAGE)), function.name, node.lineno))
    return found


def test_no_sql_is_formatted_outside_the_allow_listed_identifier_interpolations() -> None:
    found = formatted_sql()
    offending = sorted(hit for hit in found if hit[:2] not in ALLOWED)
    assert not offending, f"SQL built by string formatting: {offending}"
    # A stale entry would let a new violation hide behind an old name.
    assert {hit[:2] for hit in found} == set(ALLOWED)


def test_the_scan_finds_sql_formatted_from_a_value(tmp_path: Path) -> None:
    source = (
        "def f(con, day):\n"
        "    con.execute(f\"SELECT * FROM raw.users_extract WHERE snapshot_date = '{day}'\")\n"
        "    con.execute('DELETE FROM t WHERE id = %s' % day)\n"
        "    con.execute('SELECT {}'.format(day))\n"
        "    con.execute('SELECT ' + day)\n"
    )
    tree = ast.parse(source)
    hits = [
        node.lineno for node in ast.walk(tree) if _formats(node) and _SQL.search(_sql_text(node))
    ]
    assert sorted(set(hits)) == [2, 3, 4, 5]


HOSTILE_ARGUMENTS = [
    ["ingest-users", "--date", "2024-01-01'; DROP TABLE raw.users_extract; --"],
    ["ingest-users", "--date", "2024-01-01' OR '1'='1"],
    ["ingest-pageviews", "--hour", "2024-01-01T10'; DROP TABLE raw.pageviews_extract; --"],
    ["ingest-pageviews", "--hour", "2024-01-01T10 UNION SELECT 1"],
]


def test_hostile_arguments_and_environment_get_a_one_line_error_and_change_nothing(
    platform: Platform, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.land_users([(1, "A1 1AA")])
    platform.ingest_users("2024-01-01")
    before = table_contents(platform)
    capsys.readouterr()
    for argv in HOSTILE_ARGUMENTS:
        assert cli.main(argv) == 2, argv
        error = capsys.readouterr().err.strip()
        assert error.startswith("pageview-platform: ") and "\n" not in error
    monkeypatch.setenv("PAGEVIEW_START_DATE", "2024-01-01'; DROP TABLE raw.users_extract; --")
    assert cli.main(["ingest-users", "--date", "2024-01-01"]) == 2
    assert "PAGEVIEW_START_DATE" in capsys.readouterr().err
    assert table_contents(platform) == before


def test_sql_in_a_landing_row_is_stored_as_text_and_runs_nothing(platform: Platform) -> None:
    hostile = "x'); DROP TABLE raw.users_extract; --"
    platform.land_users([(1, hostile[:15]), (2, "A1 1AA")])
    platform.ingest_users("2024-01-01")
    platform.land_pageviews([(1, hostile, datetime(2024, 1, 1, 10))])
    platform.ingest_pageviews("2024-01-01T10")
    assert platform.query("SELECT url FROM core.pageview_fact") == [(hostile,)]
    assert platform.query("SELECT postcode FROM core.user_postcode_history WHERE user_id = 1") == [
        (hostile[:15].upper(),)
    ]
    assert platform.query("SELECT count(*) FROM raw.users_extract") == [(2,)]
