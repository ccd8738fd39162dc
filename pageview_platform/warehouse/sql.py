"""SQL files: where they are, their statements, and the values and names bound into them."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import cache
from pathlib import Path

from dagster import TimeWindow

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"

# Names the platform writes into SQL text (tables, partition columns, roles): plain identifiers.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def identifier(name: str) -> str:
    """NAME, if it is a plain identifier; anything else is refused before it reaches SQL."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return name


@cache
def read_sql(path: str) -> str:
    """The text of a SQL file under pageview_platform/sql, e.g. 'transform/pageview_fact.sql'."""
    return (SQL_ROOT / path).read_text(encoding="utf-8")


# The folders of the schema every deploy runs, in this order, each script by its name.
SCHEMA_FOLDERS = ("schema", "views")


def schema_scripts(root: Path) -> list[Path]:
    """The schema's scripts under ROOT, in the order a deploy runs them."""
    return [
        script
        for folder in SCHEMA_FOLDERS
        for script in sorted((root / folder).iterdir(), key=lambda f: f.name)
    ]


@cache
def schema_hash(root: Path) -> str:
    """One hash of every schema script's name and text under ROOT: it changes when any does."""
    digest = hashlib.sha256()
    for script in schema_scripts(root):
        digest.update(script.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(script.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def split_statements(script: str) -> list[str]:
    """The statements of a script whose statements each end with ';' at the end of a line."""
    statements = []
    for chunk in script.split(";\n"):
        lines = [line for line in chunk.splitlines() if not line.lstrip().startswith("--")]
        statement = "\n".join(lines).strip().rstrip(";").strip()
        if statement:
            statements.append(statement)
    return statements


def window_params(window: TimeWindow) -> dict[str, datetime]:
    """A partition window as the $start / $end parameters of the transformation SQL (UTC, naive)."""
    return {
        "start": window.start.replace(tzinfo=None),
        "end": window.end.replace(tzinfo=None),
    }
