"""The platform's SQL is written once, in DuckDB's dialect; this turns it into Snowflake's.

sqlglot does most of it. The rewrites below cover what it leaves as DuckDB-only or where the
same words mean something else on Snowflake (see docs/design.md §9):

- `$name` parameters: `:N` placeholders the driver binds (paramstyle numeric), never text;
- `INSERT INTO t BY NAME SELECT ...`: `INSERT INTO t (the columns the SELECT names) SELECT ...`;
- `regexp_replace(..., 'g')`: no flag (Snowflake replaces every match; its 4th argument is a
  position);
- `regexp_matches(x, p)`, true when p matches anywhere: `REGEXP_INSTR(x, p) > 0`, since
  Snowflake's `REGEXP_LIKE` must match the whole string;
- `'\\t'`, `'\\x0B'`, `'\\x{3000}'` in a pattern (DuckDB keeps the backslash for its regexp
  engine, RE2): the character itself, which Snowflake's regexps match as one character;
- `core.f(x)`, a call of a DuckDB macro (`CREATE MACRO`, sql/views/05_normalisation.sql): the
  macro's body with x in place of its parameter, so the text rules are defined once and
  evaluated alike on both warehouses; the macro's own CREATE becomes no statement at all;
- `count(DISTINCT (a, b))`: `COUNT(DISTINCT a, b)`;
- `CREATE OR REPLACE TEMP TABLE x AS q`: `DELETE FROM scratch.x; INSERT INTO scratch.x (...) q`;
- `CREATE OR REPLACE VIEW`: `... COPY GRANTS`, so a redeploy keeps the BI role's SELECT.

Scratch tables: Snowflake DDL commits the open transaction, so a temp table created inside a
merge's transaction would commit half of it. `deploy-schema` creates each scratch relation once,
as a transient table in the `scratch` schema (`scratch_ddl`), and inside transactions it is only
emptied and filled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter

import sqlglot
from sqlglot import exp

from pageview_platform.warehouse.sql import SQL_ROOT, split_statements

SCRATCH_SCHEMA = "scratch"

# DuckDB keeps backslashes in string literals and its regexp engine reads these escapes: a
# control character by name, or a code point in hex (`\\x0B`, `\\x{3000}`). An escaped backslash
# is matched too, so that what follows it is never read as an escape.
_PATTERN_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\f": "\f"}
_PATTERN_ESCAPE = re.compile(r"\\\\|\\[tnrf]|\\x([0-9A-Fa-f]{2})|\\x\{([0-9A-Fa-f]{1,6})\}")
# What a hex escape may not stand for: a character that means something to a regexp engine.
_REGEXP_SYNTAX = frozenset("\\^$.|?*+()[]{}-")
_MACRO = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?MACRO\s", re.IGNORECASE)


@dataclass(frozen=True)
class SnowflakeStatement:
    """One Snowflake statement and, for each `:N` placeholder, the parameter name it binds."""

    sql: str
    parameters: tuple[str, ...] = ()

    def bind(self, params: dict[str, object]) -> list[object]:
        """The values of the placeholders, in order; a parameter the caller lacks is an error."""
        missing = [name for name in self.parameters if name not in params]
        if missing:
            raise KeyError(f"SQL parameter(s) {', '.join(missing)} not given")
        return [params[name] for name in self.parameters]


@cache
def scratch_tables() -> frozenset[str]:
    """Names of the temp tables the transformation scripts create (their scratch relations)."""
    return frozenset(name for name, _ in _scratch_definitions())


def _scratch_definitions() -> Iterator[tuple[str, exp.Query]]:
    """Each scratch relation's first definition, after the relations it reads (a script may
    stage from another script's scratch table)."""
    definitions: dict[str, exp.Query] = {}
    for script in sorted((SQL_ROOT / "transform").glob("*.sql")):
        for statement in split_statements(script.read_text(encoding="utf-8")):
            tree = sqlglot.parse_one(statement, read="duckdb")
            if _is_temp_table(tree) and tree.this.name not in definitions:
                definitions[tree.this.name] = tree.expression
    reads = {
        name: {t.name for t in query.find_all(exp.Table) if not t.db} & definitions.keys() - {name}
        for name, query in definitions.items()
    }
    for name in TopologicalSorter(reads).static_order():
        yield name, definitions[name]


def _is_temp_table(tree: exp.Expr) -> bool:
    return (
        isinstance(tree, exp.Create)
        and tree.kind == "TABLE"
        and tree.find(exp.TemporaryProperty) is not None
        and isinstance(tree.expression, exp.Query)
    )


@cache
def macros() -> dict[str, tuple[tuple[str, ...], exp.Expr]]:
    """Each DuckDB macro the deployed SQL defines, by schema-qualified name: its parameters and
    its body."""
    found: dict[str, tuple[tuple[str, ...], exp.Expr]] = {}
    for folder in ("schema", "views"):
        for script in sorted((SQL_ROOT / folder).glob("*.sql")):
            for statement in split_statements(script.read_text(encoding="utf-8")):
                if not _MACRO.match(statement):
                    continue
                tree = sqlglot.parse_one(statement, read="duckdb")
                signature = tree.this
                name = f"{signature.this.db}.{signature.this.name}".lower()
                found[name] = (tuple(p.name for p in signature.expressions), tree.expression)
    return found


def _is_macro(tree: exp.Expr) -> bool:
    return isinstance(tree, exp.Create) and str(tree.kind).upper() == "MACRO"


def _inline_macros(tree: exp.Expr) -> exp.Expr:
    """TREE with every macro call written out as the macro's body, arguments in place."""
    defined = macros()

    def inline(node: exp.Expr) -> exp.Expr:
        if not (isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous)):
            return node
        name = f"{node.this.name}.{node.expression.name}".lower()
        if name not in defined:
            return node
        parameters, body = defined[name]
        arguments = node.expression.expressions
        if len(arguments) != len(parameters):
            raise ValueError(f"{name} takes {len(parameters)} argument(s), not {len(arguments)}")
        bound = dict(zip(parameters, arguments, strict=True))
        expanded = body.copy().transform(
            lambda n: (
                bound[n.name].copy()
                if isinstance(n, exp.Column) and not n.table and n.name in bound
                else n
            )
        )
        # The arguments and the body may call macros in turn (the transform does not descend
        # into a node it replaced).
        return _inline_macros(exp.paren(expanded, copy=False))

    return tree.transform(inline)


@cache
def to_snowflake(sql: str) -> tuple[SnowflakeStatement, ...]:
    """The Snowflake statements that do what the DuckDB statement SQL does."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if _is_macro(tree):
        return ()  # written out wherever it is called
    tree = _inline_macros(tree)
    if _is_temp_table(tree):
        name = tree.this.name
        return (
            _render(exp.delete(exp.to_table(f"{SCRATCH_SCHEMA}.{name}"))),
            _render(_insert_by_name(exp.to_table(f"{SCRATCH_SCHEMA}.{name}"), tree.expression)),
        )
    if isinstance(tree, exp.Insert) and tree.args.get("by_name"):
        tree = _insert_by_name(tree.this, tree.expression)
    if isinstance(tree, exp.Create) and tree.kind == "VIEW" and tree.args.get("replace"):
        properties = tree.args.get("properties") or exp.Properties(expressions=[])
        properties.append("expressions", exp.CopyGrantsProperty())
        tree.set("properties", properties)
    return (_render(tree),)


def scratch_ddl() -> list[SnowflakeStatement]:
    """CREATE statements for every scratch relation, empty, in dependency order (deploy only)."""
    statements = []
    for name, query in _scratch_definitions():
        # No rows are read, so the window's parameters only need their type (every parameter of
        # a transformation is a timestamp); DDL then binds nothing.
        typed = query.transform(
            lambda node: (
                exp.cast(exp.null(), exp.DataType.Type.TIMESTAMP)
                if isinstance(node, exp.Placeholder)
                else node
            )
        )
        empty = exp.select("*").from_(typed.subquery("definition")).limit(0)
        create = exp.Create(
            this=exp.to_table(f"{SCRATCH_SCHEMA}.{name}"),
            kind="TABLE",
            replace=True,
            expression=empty,
            properties=exp.Properties(expressions=[exp.TransientProperty()]),
        )
        statements.append(_render(create))
    return statements


def _insert_by_name(table: exp.Expr, query: exp.Query) -> exp.Insert:
    columns = query.named_selects
    if not columns or "*" in columns or "" in columns:
        raise ValueError(f"INSERT BY NAME needs a SELECT that names its columns: {query.sql()}")
    return exp.insert(query, table, columns=columns)


def _render(tree: exp.Expr) -> SnowflakeStatement:
    names: list[str] = []
    scratch = scratch_tables()

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and node.name and not node.name.isdigit():
            if node.name not in names:
                names.append(node.name)
            return exp.Placeholder(this=str(names.index(node.name) + 1))
        if isinstance(node, exp.Table) and not node.db and node.name in scratch:
            table = exp.to_table(f"{SCRATCH_SCHEMA}.{node.name}")
            table.set("alias", exp.TableAlias(this=exp.to_identifier(node.alias or node.name)))
            return table
        # A node replaced is not descended into: its subject is rewritten here (it may hold
        # another regexp, as an inlined macro's body does).
        if isinstance(node, exp.RegexpReplace):
            return _replace_every_match(node, node.this.transform(rewrite))
        if isinstance(node, exp.RegexpLike):
            # Snowflake's REGEXP_LIKE matches the whole string; DuckDB's regexp_matches does not.
            return exp.GT(
                this=exp.func(
                    "REGEXP_INSTR", node.this.transform(rewrite), _pattern(node.expression)
                ),
                expression=exp.Literal.number(0),
            )
        if (
            isinstance(node, exp.Distinct)
            and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Tuple)
        ):
            return exp.Distinct(expressions=node.expressions[0].expressions)
        return node

    rewritten = tree.transform(rewrite)
    # Comments stay in the .sql files; a comment mentioning `$start` would read as a variable.
    return SnowflakeStatement(rewritten.sql(dialect="snowflake", comments=False), tuple(names))


def _replace_every_match(node: exp.RegexpReplace, subject: exp.Expr) -> exp.Expr:
    modifiers = node.args.get("modifiers")
    if modifiers is None or modifiers.name != "g":
        raise ValueError("only regexp_replace(..., 'g') has a Snowflake form here")
    return exp.func("REGEXP_REPLACE", subject, _pattern(node.expression), node.args["replacement"])


def _pattern(pattern: exp.Expr) -> exp.Expr:
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.Literal.string(_PATTERN_ESCAPE.sub(_unescape, pattern.this))
    return pattern


def _unescape(match: re.Match[str]) -> str:
    escape = match.group(0)
    if escape in _PATTERN_ESCAPES:
        return _PATTERN_ESCAPES[escape]
    code = match.group(1) or match.group(2)
    if code is None:
        return escape  # an escaped backslash stays escaped
    character = chr(int(code, 16))
    if character in _REGEXP_SYNTAX:
        raise ValueError(f"{escape} in a pattern would mean {character!r} unescaped on Snowflake")
    return character
