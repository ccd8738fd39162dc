"""The BI views read the way BI tools read them: through SQLAlchemy, reflected, then queried.

DuckDB: the published BI database through duckdb-engine, with the read-only URI the README gives
Superset. Snowflake: the `bi` views through snowflake-sqlalchemy and the real connector, against
the fakesnow server on loopback (fakesnow_server.py), deployed and ingested by the CLI.

Both dialects need SQLAlchemy older than 2.0.45: from 2.0.45 the PostgreSQL column reflection
duckdb-engine 0.17 inherits reads `pg_catalog.pg_collation` in a correlated subquery DuckDB
cannot bind (Mause/duckdb_engine#1379), and snowflake-sqlalchemy 1.11.1 does not import on 2.1
(`sqlalchemy.orm.context.ORMSelectCompileState` is gone). Superset pins SQLAlchemy 1.4.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from snowflake.connector.constants import FIELD_ID_TO_NAME
from snowflake.sqlalchemy import URL

from pageview_platform.settings import get_settings
from pageview_platform_tests import fakesnow_server, oracle
from pageview_platform_tests.harness import VIEW_NAMES, Platform, SnowflakePlatform, platform_at
from pageview_platform_tests.test_oracle_scenarios import ingest

TABLES = sorted(name.removeprefix("bi.") for name in VIEW_NAMES)
COLUMNS = ["period_start", "postcode", "pageviews"]

# Each ingest is a Dagster run of a few seconds: one snapshot and one load, holding a postcode to
# normalise, a double click, a user no snapshot holds (UNKNOWN) and two hours.
SCENARIO: list[oracle.Event] = [
    ("users", date(2024, 1, 1), [(1, " sw1a  1aa"), (2, "EC1A 1BB")]),
    (
        "pageviews",
        datetime(2024, 1, 1, 10),
        [(1, "/a", datetime(2024, 1, 1, 10, 5))] * 2
        + [(2, "/b", datetime(2024, 1, 1, 10, 30)), (3, "/c", datetime(2024, 1, 1, 11))],
    ),
]
EXPECTED = oracle.expected_views(SCENARIO)


def run_scenario(p: Platform) -> None:
    for i, event in enumerate(SCENARIO):
        ingest(p, event, SCENARIO[:i])


# ---------------------------------------------------------------- DuckDB: the published file


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The BI database the ingests published, after the scenario."""
    with platform_at(tmp_path_factory.mktemp("published")) as p:
        run_scenario(p)
        return get_settings().bi_duckdb_path


@pytest.fixture(scope="module")
def engine(published: Path) -> Iterator[sa.Engine]:
    """What Superset builds from the README's URI (duckdb-engine takes `access_mode` from it)."""
    engine = sa.create_engine(f"duckdb:///{published}?access_mode=read_only")
    yield engine
    engine.dispose()


def test_the_readme_uri_opens_the_published_file_read_only(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        mode = connection.exec_driver_sql("SELECT current_setting('access_mode')").scalar()
        assert mode == "read_only"
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.exec_driver_sql("CREATE TABLE scratch (i INTEGER)")


def test_the_file_holds_the_six_tables_and_the_publication(engine: sa.Engine) -> None:
    # In the file's default schema, `main`: its catalog is named after the file, so in bi.duckdb
    # the README's `bi.<view>` names them, as in the warehouse.
    inspector = sa.inspect(engine)
    assert sorted(inspector.get_table_names()) == sorted([*TABLES, "publication"])
    assert inspector.get_view_names() == []
    with engine.connect() as connection:
        readme_query = connection.exec_driver_sql(
            "SELECT postcode, sum(pageviews) FROM bi.pageviews_by_current_postcode_daily"
            " WHERE period_start >= '2024-01-01' AND period_start < '2024-02-01' GROUP BY postcode"
        )
        assert dict(readme_query.all()) == {
            postcode: n for _, postcode, n in EXPECTED["bi.pageviews_by_current_postcode_daily"]
        }


@pytest.mark.parametrize("table", TABLES)
def test_reflected_columns_have_the_documented_names_types_and_comments(
    engine: sa.Engine, table: str
) -> None:
    inspector = sa.inspect(engine)
    columns = inspector.get_columns(table)
    assert [column["name"] for column in columns] == COLUMNS
    period_start, postcode, pageviews = (column["type"] for column in columns)
    # The README's TIMESTAMP, VARCHAR and BIGINT, as SQLAlchemy's generic types.
    assert isinstance(period_start, sa.DateTime) and not period_start.timezone
    assert isinstance(postcode, sa.String)
    assert isinstance(pageviews, sa.BigInteger)
    assert inspector.get_table_comment(table)["text"]
    assert all(column["comment"] for column in columns), columns


@pytest.mark.parametrize("table", TABLES)
def test_each_table_read_through_sqlalchemy_holds_the_oracles_answers(
    engine: sa.Engine, table: str
) -> None:
    reflected = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(sa.select(reflected))]
    assert len(rows) == len(set(rows)), f"bi.{table} repeats a row"
    assert set(rows) == EXPECTED[f"bi.{table}"]


# ---------------------------------------------------------------- Snowflake: the emulator


@pytest.mark.snowflake
def test_snowflake_bi_views_reflect_and_read_through_snowflake_sqlalchemy(
    tmp_path: Path,
) -> None:
    """What fakesnow 0.12.1 (server mode) cannot answer is left out, and said so here:
    - comments: `COMMENT ON VIEW` is accepted and not stored (`SHOW VIEWS` shows '' and
      `get_table_comment` gives None); `COMMENT ON COLUMN` is stored, but the server then
      runs `DESCRIBE COMMENT ON COLUMN ...` to describe its result, which DuckDB cannot parse,
      so the client gets an error (the same defect as MERGE's, see fakesnow_server.py);
    - roles: fakesnow has none, so the engine logs in with the BI role's name but nothing
      checks its grants (test_snowflake.py asserts the GRANT statements instead);
    - column types are what Snowflake itself reports for the contract's BIGINT: NUMBER(38, 0),
      reflected as a Numeric of scale 0, not a BigInteger.
    """
    with (
        fakesnow_server.fakesnow_server() as server,
        fakesnow_server.platform_on_server(tmp_path, server),
    ):
        config = get_settings().snowflake
        assert config is not None
        # The ingests run in this process, through the real connector all the same (a CLI
        # process per ingest would spend 10-20 s importing).
        run_scenario(SnowflakePlatform(config.resource_config()))
        url = URL(
            account="fakesnow",
            user="bi_tool",
            password="not-a-secret",
            database=config.database,
            schema="bi",
            warehouse=config.bi_warehouse,
            role=config.bi_role,
        )
        # snowflake-sqlalchemy refuses host, port and protocol in the URL: connect_args.
        loopback = {"host": server.host, "port": server.port, "protocol": "http"}
        engine = sa.create_engine(url, connect_args={**loopback, "network_timeout": 1})
        inspector = sa.inspect(engine)
        assert sorted(inspector.get_view_names(schema="bi")) == TABLES
        for table in TABLES:
            columns = inspector.get_columns(table, schema="bi")
            assert [column["name"] for column in columns] == COLUMNS
            period_start, postcode, pageviews = (column["type"] for column in columns)
            # snowflake-sqlalchemy reflects TIMESTAMP_NTZ as its own type (a TypeEngine, not a
            # DateTime); the wire type below says the same: a timestamp without zone.
            assert type(period_start).__name__ == "TIMESTAMP_NTZ", period_start
            assert isinstance(postcode, sa.String)
            assert isinstance(pageviews, sa.Numeric) and pageviews.scale == 0

            reflected = sa.Table(table, sa.MetaData(), schema="bi", autoload_with=engine)
            with engine.connect() as connection:
                result = connection.execute(sa.select(reflected))
                description = result.cursor.description
                rows = [tuple(row) for row in result]
            assert [(d.name, FIELD_ID_TO_NAME[d.type_code]) for d in description] == [
                ("PERIOD_START", "TIMESTAMP_NTZ"),
                ("POSTCODE", "TEXT"),
                ("PAGEVIEWS", "FIXED"),
            ]
            assert len(rows) == len(set(rows)), f"bi.{table} repeats a row"
            assert set(rows) == EXPECTED[f"bi.{table}"], table
        engine.dispose()
