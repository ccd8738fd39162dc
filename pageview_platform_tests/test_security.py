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
    r"\b(SELECT|INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|ATTACH|DETACH|DESCRIBE|FROM|WHERE|COMMENT)\b"
)

# Formatted SQL allowed, by (file, function): each interpolates identifiers fixed in the code,
# never a value. Anything else that formats SQL fails the scan.
ALLOWED = {
    # The write path: table and partition column pass identifier() (a plain-identifier check),
    # the SELECT is a .sql file's text, the window bounds are bound values.
    ("warehouse/session.py", "replace_partition"): "names via identifier(), file SQL, bound window",
    # The pandas I/O managers: table and columns via identifier(), bounds bound (_slice_where).
    ("warehouse/frames.py", "_select"): "table and columns via identifier(), bound bounds",
    ("warehouse/frames.py", "_check_slice"): "table via identifier(), bound bounds",
    ("warehouse/frames.py", "delete_table_slice"): "table via identifier(), bound bounds",
    ("warehouse/frames.py", "handle_output"): "table, columns, staging via identifier()",
    ("warehouse/frames.py", "connect"): "the staging table's name, from identifier() parts",
    # The BI publish: the attach alias and storage version are module constants (the path is
    # bound); the comments are the bi views' own, from sql/views/20_bi.sql through the catalog,
    # quotes doubled, with table and column names via identifier().
    ("warehouse/publish.py", "publish"): "the ALIAS constant",
    ("warehouse/publish.py", "_attach"): "ALIAS and STORAGE_VERSION constants, bound path",
    ("warehouse/publish.py", "_patch"): "the ALIAS constant",
    ("warehouse/publish.py", "_patch_attached"): "the ALIAS constant",
    ("warehouse/publish.py", "_open_spare"): "the ALIAS constant",
    ("warehouse/publish.py", "_unchanged"): "the ALIAS constant, bound path",
    ("warehouse/publish.py", "_patch_tables"): "table names from BI_VIEWS via identifier()",
    ("warehouse/publish.py", "_count_rows"): "table names from BI_VIEWS via identifier()",
    ("warehouse/publish.py", "_comments"): "our views' comment text, quotes doubled",
    # Snowflake: every name passes identifier() before it is interpolated.
    ("warehouse/snowflake.py", "bi_grants"): "database, role, warehouse names via identifier()",
    # An error message quoting the parsed query, not a statement.
    ("warehouse/dialect.py", "_insert_by_name"): "error message only",
    # raw/core table and key column names passed as literals by Ingest.users/pageviews.
    ("ingest.py", "_load_counts"): "table and column names from this module",
    # View names from the ANSWER_VIEWS / QUESTIONS constants.
    ("bench/runner.py", "differing_rows"): "view names from a constant",
    ("bench/history.py", "table_rows"): "table names from the COUNTED_TABLES constant",
    ("bench/history.py", "verify"): "result labels from .sql file names, not statements",
    ("bench/runner.py", "time_bi_views"): "view names from a constant",
    ("demo.py", "run_demo"): "view names from a constant",
    # The attach alias, a module constant; the path itself is a bound parameter.
    ("bench/baseline.py", "capture"): "WAREHOUSE_ALIAS constant",
    ("bench/baseline.py", "copy"): "WAREHOUSE_ALIAS constant",
    # The simulator writes test data from its own config: table and column names from its
    # module, counts and seeds as ints (argparse-typed), SQL expressions it builds itself, never
    # text from outside.
    ("simulator/simulator.py", "_reload"): "landing table and columns from the simulator",
    ("simulator/pageviews.py", "_late_rows_sql"): "ints from SimulationConfig",
    ("simulator/pageviews.py", "_pairs_sql"): "ints from SimulationConfig",
    ("simulator/pageviews.py", "pageviews_load_sql"): "ints from SimulationConfig",
    ("simulator/pageviews.py", "_viewer_sql"): "SQL expressions and ints from the simulator",
    ("simulator/users.py", "users_snapshot_sql"): "ints from SimulationConfig",
    ("simulator/users.py", "deleted_day_sql"): "SQL expressions and ints from the simulator",
    ("simulator/users.py", "max_user_id_sql"): "SQL expressions and ints from the simulator",
    ("simulator/users.py", "registered_day_sql"): "SQL expressions and ints from the simulator",
    ("simulator/postcodes.py", "postcode_sql"): "SQL expressions and ints from the simulator",
    ("simulator/hashing.py", "sql_draw"): "the hash expression and ints from the simulator",
    ("simulator/hashing.py", "sql_unit"): "the hash expression and ints from the simulator",
    # Not SQL: a message whose variable is named `where` (a place).
    ("cli.py", "_print_restart"): "a message, not SQL",
}


# Names that, in this code base, hold SQL text: a SQL file's text, a statement, a predicate.
_SQL_WORDS = {"sql", "statement", "statements", "query", "ddl", "script", "select", "where"}
_SQL_WORDS |= {"predicate", "clause", "clauses"}
# Every call that builds a string from parts.
_BUILDERS = {"format", "format_map", "replace", "join", "substitute", "safe_substitute"}


def _sql_text(node: ast.AST) -> str:
    """The literal text of a formatting expression, to tell SQL from other messages."""
    return " ".join(
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )


def _names(node: ast.AST) -> set[str]:
    """The variables, attributes and called functions an expression mentions."""
    names = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            names.add(part.id)
        elif isinstance(part, ast.Attribute):
            names.add(part.attr)
    return names


def _sql_constants(tree: ast.AST) -> set[str]:
    """Names bound anywhere in the module to string constants that look like SQL."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            text = isinstance(node.value, ast.JoinedStr) or (
                isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            )
            if text and _SQL.search(_sql_text(node.value)):
                bound.update(t.id for t in targets if isinstance(t, ast.Name))
    return bound


def _formats(node: ast.AST) -> bool:
    """Whether NODE builds a string from parts: an f-string with a field, +, %, += or a
    string-building call (str.format, .replace, .join, Template.substitute, ...) on anything."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(value, ast.FormattedValue) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return not all(
            isinstance(side, ast.Constant) and isinstance(side.value, int | float)
            for side in (node.left, node.right)
        )
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _BUILDERS
    )


def _looks_like_sql(node: ast.AST, sql_constants: set[str]) -> bool:
    """SQL keywords in its literal text, or a part named like SQL or bound to SQL text."""
    if _SQL.search(_sql_text(node)):
        return True
    names = _names(node)
    words = {word for name in names for word in name.lower().split("_")}
    return bool(names & sql_constants or words & _SQL_WORDS)


def formatting_sql(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing function, line) of every expression in TREE that formats SQL-looking text."""
    sql_constants = _sql_constants(tree)
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if _formats(node) and _looks_like_sql(node, sql_constants):
                found.append((function.name, node.lineno))
    return found


def formatted_sql() -> set[tuple[str, str, int]]:
    """(file, enclosing function, line) of every expression that formats SQL-looking text."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = str(path.relative_to(PACKAGE))
        found.update((name, function, line) for function, line in formatting_sql(tree))
    return found


def test_no_sql_is_formatted_outside_the_allow_listed_identifier_interpolations() -> None:
    found = formatted_sql()
    offending = sorted(hit for hit in found if hit[:2] not in ALLOWED)
    assert not offending, f"SQL built by string formatting: {offending}"
    # A stale entry would let a new violation hide behind an old name.
    assert {hit[:2] for hit in found} == set(ALLOWED)


def test_the_scan_finds_sql_formatted_from_a_value() -> None:
    source = (
        "from string import Template\n"
        "LOOKUP = 'SELECT * FROM raw.users_extract WHERE snapshot_date = {}'\n"
        "def f(con, day, read_sql, text):\n"
        "    con.execute(f\"SELECT * FROM raw.users_extract WHERE snapshot_date = '{day}'\")\n"
        "    con.execute('DELETE FROM t WHERE id = %s' % day)\n"
        "    con.execute('SELECT {}'.format(day))\n"
        "    con.execute('SELECT ' + day)\n"
        "    con.execute(LOOKUP.format(day))\n"
        "    con.execute(read_sql('x.sql').replace('$day', day))\n"
        "    statement = 'SELECT 1 WHERE '\n"
        "    statement += day\n"
        "    con.execute(Template(text).substitute(day=day) + read_sql('y.sql'))\n"
        "    con.execute(' AND '.join([clause, day]))\n"
        "    con.execute(query % (day,))\n"
        "    message = f'no snapshot of {day}'\n"
        "    total = 1 + 2\n"
    )
    lines = sorted({line for _, line in formatting_sql(ast.parse(source))})
    assert lines == [4, 5, 6, 7, 8, 9, 11, 12, 13, 14]


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
