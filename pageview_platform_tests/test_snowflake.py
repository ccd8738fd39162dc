"""Snowflake as the warehouse: the SQL translation, deploy-schema and its grants, the
transactional partition write, and the environment settings. Run against fakesnow where it can run
them; what it cannot (clustering, roles, grants) is parsed with sqlglot and asserted on."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
import sqlglot
from dagster import AssetKey, asset, materialize
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp

from pageview_platform import cli
from pageview_platform.assets.partitions import window
from pageview_platform.assets.sql_asset import write_partition
from pageview_platform.definitions import defs
from pageview_platform.settings import SettingsError, get_settings
from pageview_platform.warehouse.dialect import scratch_tables, to_snowflake
from pageview_platform.warehouse.snowflake import (
    SnowflakeWarehouse,
    bi_grants,
    identifier,
    session,
)
from pageview_platform.warehouse.sql import SQL_ROOT, split_statements
from pageview_platform_tests.harness import (
    FAKE_SNOWFLAKE_ENV,
    SnowflakePlatform,
    environment,
    platform_at,
)
from pageview_platform_tests.test_warehouse_io import DAYS, _sql_file

pytestmark = pytest.mark.snowflake

TRANSLATED_FOLDERS = ("schema", "views", "transform", "metrics", "checks")


@pytest.fixture
def snowflake(tmp_path: Path) -> Iterator[SnowflakePlatform]:
    """A fresh fakesnow database, deployed by `pageview-platform deploy-schema`."""
    with platform_at(tmp_path, warehouse="snowflake") as platform:
        assert isinstance(platform, SnowflakePlatform)
        yield platform


class Statements:
    """Every statement the Snowflake connector is asked to run, with its bound values."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def texts(self) -> list[str]:
        return [sql for sql, _ in self.sent]


@pytest.fixture
def statements() -> Iterator[Statements]:
    recorded = Statements()
    execute = FakeSnowflakeCursor.execute

    def recording(cursor, command, params=None, *args, **kwargs):
        recorded.sent.append((command, params))
        return execute(cursor, command, params, *args, **kwargs)

    with mock.patch.object(FakeSnowflakeCursor, "execute", recording):
        yield recorded


# ---------------------------------------------------------------- one SQL source, translated


def _platform_statements() -> Iterator[tuple[str, str]]:
    for folder in TRANSLATED_FOLDERS:
        for script in sorted((SQL_ROOT / folder).glob("*.sql")):
            for statement in split_statements(script.read_text(encoding="utf-8")):
                yield f"{folder}/{script.name}", statement


def test_every_sql_file_translates_into_snowflake_sql() -> None:
    for name, statement in _platform_statements():
        for translated in to_snowflake(statement):
            parsed = sqlglot.parse_one(translated.sql, read="snowflake")
            assert not isinstance(parsed, exp.Command), f"{name}: {translated.sql}"
            text = translated.sql.upper()
            for duckdb_only in ("$", "BY NAME", "TEMPORARY", "ROWID", "HISTOGRAM", "FILTER("):
                assert duckdb_only not in text, f"{name} keeps {duckdb_only}: {translated.sql}"


def test_parameters_become_numbered_binds_one_per_name() -> None:
    (statement,) = to_snowflake("SELECT 1 WHERE $start <= x AND x < $end AND y >= $start")
    assert statement.sql == "SELECT 1 WHERE :1 <= x AND x < :2 AND y >= :1"
    assert statement.bind({"end": 2, "start": 1, "unused": 3}) == [1, 2]


def test_insert_by_name_lists_the_columns_the_select_names() -> None:
    (statement,) = to_snowflake("INSERT INTO core.t BY NAME SELECT 2 AS b, 1 AS a")
    assert statement.sql == "INSERT INTO core.t (b, a) SELECT 2 AS b, 1 AS a"


def test_regexp_rewrites_keep_duckdbs_meaning() -> None:
    (statement,) = to_snowflake(
        r"SELECT regexp_replace(p, '[ \t\x0B]+', ' ', 'g'), regexp_matches(p, '[\n]')"
    )
    replace, matches = sqlglot.parse_one(statement.sql, read="snowflake").selects
    # Every match replaced: Snowflake's default; a fourth argument would be a position.
    assert replace.sql("snowflake") == "REGEXP_REPLACE(p, '[ \\t\\x0b]+', ' ')"
    assert replace.expression.this == "[ \t\x0b]+"
    # DuckDB's regexp_matches is true when the pattern matches anywhere in the string.
    assert matches.sql("snowflake") == "REGEXP_INSTR(p, '[\\n]') > 0"
    assert matches.this.expression.this == "[\n]"


def test_temp_tables_become_scratch_tables_emptied_and_filled() -> None:
    delete, insert = to_snowflake("CREATE OR REPLACE TEMP TABLE merge_changes AS SELECT 1 AS n")
    assert delete.sql == "DELETE FROM scratch.merge_changes"
    assert insert.sql == "INSERT INTO scratch.merge_changes (n) SELECT 1 AS n"
    (reader,) = to_snowflake("SELECT n FROM merge_changes AS c")
    assert reader.sql == "SELECT n FROM scratch.merge_changes AS c"
    assert "merge_changes" in scratch_tables()


def test_redeployed_views_keep_their_grants() -> None:
    (statement,) = to_snowflake("CREATE OR REPLACE VIEW bi.v AS SELECT 1 AS x")
    assert statement.sql == "CREATE OR REPLACE VIEW bi.v COPY GRANTS AS SELECT 1 AS x"


# ---------------------------------------------------------------- what fakesnow cannot run


def test_big_tables_are_clustered_by_day_and_scratch_is_transient() -> None:
    deploy = (SQL_ROOT / "snowflake" / "deploy.sql").read_text()
    parsed = [sqlglot.parse_one(s, read="snowflake") for s in split_statements(deploy)]
    clustered = {}
    for statement in parsed:
        if isinstance(statement, exp.Alter):
            (cluster,) = statement.args["actions"]
            assert isinstance(cluster, exp.ClusterProperty)
            (key,) = cluster.expressions
            assert isinstance(key, exp.TsOrDsToDate), statement.sql("snowflake")
            clustered[statement.this.sql()] = key.this.name
    assert clustered == {
        "raw.pageviews_extract": "load_hour",
        "core.pageview_fact": "pageview_hour",
        "agg.pageviews_by_postcode_at_view_hourly": "pageview_hour",
        "agg.pageviews_by_current_postcode_hourly": "pageview_hour",
    }
    assert "CREATE TRANSIENT SCHEMA IF NOT EXISTS scratch" in deploy


def test_bi_role_gets_select_on_the_bi_views_and_nothing_else() -> None:
    statements = bi_grants("PAGEVIEW", "PAGEVIEW_BI_READER", "BI_WH", "SECURITYADMIN")
    assert statements[:2] == [
        "USE ROLE SECURITYADMIN",
        "CREATE ROLE IF NOT EXISTS PAGEVIEW_BI_READER",
    ]
    usage, select = [], []
    for statement in statements[2:]:
        parsed = sqlglot.parse_one(statement, read="snowflake")
        if isinstance(parsed, exp.Grant):
            assert [p.sql() for p in parsed.args["privileges"]] == ["USAGE"]
            (principal,) = parsed.args["principals"]
            assert principal.name == "PAGEVIEW_BI_READER" and principal.args["kind"] == "ROLE"
            usage.append((parsed.args["kind"], parsed.args["securable"].sql()))
        else:
            # sqlglot keeps ALL / FUTURE VIEWS grants as commands: check their words instead.
            words = [t.text.upper() for t in sqlglot.tokenize(statement, read="snowflake")]
            assert words[:3] == ["GRANT", "SELECT", "ON"]
            assert words[4:] == [
                *[
                    "VIEWS",
                    "IN",
                    "SCHEMA",
                    "PAGEVIEW",
                    ".",
                    "BI",
                    "TO",
                    "ROLE",
                    "PAGEVIEW_BI_READER",
                ]
            ]
            select.append(words[3])
    assert usage == [("WAREHOUSE", "BI_WH"), ("DATABASE", "PAGEVIEW"), ("SCHEMA", "PAGEVIEW.bi")]
    assert select == ["ALL", "FUTURE"]


# ---------------------------------------------------------------- deploy-schema on fakesnow


def _catalog(platform: SnowflakePlatform) -> dict[str, list[tuple]]:
    """What a deploy could change: objects, columns, view text, settings and stored rows."""
    return {
        "columns": sorted(
            platform.query(
                "SELECT table_schema, table_name, column_name, data_type"
                " FROM information_schema.columns"
            )
        ),
        "views": sorted(
            platform.query(
                "SELECT table_schema, table_name, view_definition FROM information_schema.views"
            )
        ),
        "settings": platform.query("SELECT start_date FROM core.platform_settings"),
        "raw users": sorted(
            platform.query("SELECT snapshot_date, id, postcode FROM raw.users_extract")
        ),
    }


def test_deploy_schema_twice_changes_nothing(
    snowflake: SnowflakePlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    snowflake.land_users([(1, "SW1A 1AA")])
    snowflake.ingest_users("2024-01-01")
    before = _catalog(snowflake)
    assert before["raw users"] == [(datetime(2024, 1, 1), 1, "SW1A 1AA")]
    capsys.readouterr()
    assert cli.main(["deploy-schema"]) == 0
    assert "CREATE TABLE IF NOT EXISTS core.pageview_fact" in capsys.readouterr().out
    assert _catalog(snowflake) == before


def test_deploy_schema_with_grants_prints_every_grant(
    snowflake: SnowflakePlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["deploy-schema", "--grants"]) == 0
    printed = capsys.readouterr().out.splitlines()
    grants = bi_grants("PAGEVIEW_TEST", "PAGEVIEW_TEST_BI_READER", "PAGEVIEW_WH", "SECURITYADMIN")
    assert printed[-len(grants) :] == grants


def test_bi_views_answer_with_lowercase_columns(snowflake: SnowflakePlatform) -> None:
    snowflake.land_users([(1, "sw1a 1aa")])
    snowflake.ingest_users("2024-01-01")
    snowflake.land_pageviews([(1, "/a", datetime(2024, 1, 1, 10, 5))])
    snowflake.ingest_pageviews("2024-01-01T10")
    with session(get_settings().snowflake.resource_config()) as con:
        cursor = con.execute("SELECT * FROM bi.pageviews_by_current_postcode_daily")
        assert [c[0] for c in cursor.description] == ["period_start", "postcode", "pageviews"]
        assert cursor.fetchall() == [(datetime(2024, 1, 1), "SW1A 1AA", 1)]


# ---------------------------------------------------------------- the partition write on fakesnow


@pytest.fixture
def sample(snowflake: SnowflakePlatform) -> SnowflakePlatform:
    with session(get_settings().snowflake.resource_config()) as con:
        con.execute_native(
            "CREATE TABLE core.io_sample (day TIMESTAMP_NTZ NOT NULL, name VARCHAR, n BIGINT)"
        )
    return snowflake


def _io_asset(sql: str, after: tuple[str, ...] = (), partition_column: str = "day"):
    directory = get_settings().duckdb_path
    select = _sql_file(directory, sql)
    scripts = tuple(_sql_file(directory, script) for script in after)

    # "sample" is a keyword on Snowflake, hence test_warehouse_io's table under another name.
    @asset(key=["core", "io_sample"], partitions_def=DAYS)
    def io_sample(context, warehouse: SnowflakeWarehouse):
        return write_partition(
            warehouse, ["core", "io_sample"], partition_column, window(context), select, scripts
        )

    return io_sample


def _materialize(assets_def, key: str = "2024-01-02", raise_on_error: bool = True):
    config = get_settings().snowflake.resource_config()
    return materialize(
        [assets_def],
        partition_key=key,
        resources={"warehouse": SnowflakeWarehouse(**config)},
        raise_on_error=raise_on_error,
    )


def _rows(platform: SnowflakePlatform) -> list[tuple]:
    return platform.query("SELECT day, name, n FROM core.io_sample ORDER BY day, name")


def test_write_replaces_its_partition_and_keeps_the_others(
    sample: SnowflakePlatform,
) -> None:
    first = _io_asset("SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n")
    _materialize(first, "2024-01-01")
    _materialize(first, "2024-01-02")
    second = _io_asset("SELECT 2 AS n, 'b' AS name, CAST($start AS TIMESTAMP) AS day")
    _materialize(second, "2024-01-02")
    assert _rows(sample) == [(datetime(2024, 1, 1), "a", 1), (datetime(2024, 1, 2), "b", 2)]


def test_partition_write_is_one_transaction_without_ddl(
    sample: SnowflakePlatform, statements: Statements
) -> None:
    _materialize(_io_asset("SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n"))
    texts = statements.texts()
    begin, commit = texts.index("BEGIN"), texts.index("COMMIT")
    inside = texts[begin + 1 : commit]
    assert inside[0].startswith("DELETE FROM core.io_sample WHERE day >= :1 AND day < :2")
    assert inside[1].startswith("INSERT INTO core.io_sample (day, name, n) SELECT")
    assert not [s for s in inside if s.split()[0].upper() in {"CREATE", "ALTER", "DROP"}]


def test_failed_write_leaves_the_previous_partition(sample: SnowflakePlatform) -> None:
    _materialize(_io_asset("SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n"))
    failing = _io_asset(
        "SELECT CAST($start AS TIMESTAMP) AS day, 'b' AS name, 2 AS n",
        after=("SELECT CAST('not a number' AS INTEGER)",),
    )
    assert not _materialize(failing, raise_on_error=False).success
    assert _rows(sample) == [(datetime(2024, 1, 2), "a", 1)]


def test_rows_outside_the_partition_fail_the_write(sample: SnowflakePlatform) -> None:
    leaking = _io_asset("SELECT CAST('2024-01-05' AS TIMESTAMP) AS day, 'x' AS name, 1 AS n")
    assert not _materialize(leaking, raise_on_error=False).success
    assert _rows(sample) == []


def test_wrong_partition_column_fails_instead_of_duplicating(sample: SnowflakePlatform) -> None:
    wrong = _io_asset(
        "SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n", partition_column="no_such"
    )
    assert not _materialize(wrong, raise_on_error=False).success
    assert _rows(sample) == []


def test_empty_select_empties_the_partition(sample: SnowflakePlatform) -> None:
    _materialize(_io_asset("SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n"))
    empty = _io_asset("SELECT CAST($start AS TIMESTAMP) AS day, 'a' AS name, 1 AS n WHERE 0 = 1")
    assert _materialize(empty).success
    assert _rows(sample) == []


# ---------------------------------------------------------------- no query from unvalidated input


def test_partition_keys_reach_snowflake_only_as_bound_values(
    snowflake: SnowflakePlatform, statements: Statements
) -> None:
    snowflake.land_users([(1, "SW1A 1AA")])
    snowflake.land_pageviews([(1, "/a", datetime(2024, 1, 2, 10, 5))])
    statements.sent.clear()
    snowflake.ingest_users("2024-01-02")
    snowflake.ingest_pageviews("2024-01-02T10")
    assert statements.sent
    for text in statements.texts():
        assert "2024-01-02" not in text and "$" not in text, text
    bound = [value for _, values in statements.sent for value in values or ()]
    assert datetime(2024, 1, 2) in bound and datetime(2024, 1, 2, 10) in bound


@pytest.mark.parametrize(
    "argv",
    [
        ["ingest-users", "--date", "2024-01-02'; DROP TABLE raw.users_extract; --"],
        ["ingest-pageviews", "--hour", "2024-01-02T10' OR '1'='1"],
    ],
)
def test_cli_arguments_that_name_no_partition_never_reach_snowflake(
    snowflake: SnowflakePlatform, statements: Statements, argv: list[str]
) -> None:
    assert cli.main(argv) == 2
    assert statements.sent == []


NAMES_IN_SQL = [
    "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_ROLE",
    "SNOWFLAKE_WAREHOUSE",
    "PAGEVIEW_BI_ROLE",
    "PAGEVIEW_BI_WAREHOUSE",
    "PAGEVIEW_GRANTS_ROLE",
]


@pytest.mark.parametrize("variable", NAMES_IN_SQL)
def test_names_from_the_environment_must_be_plain_identifiers(variable: str) -> None:
    with (
        environment({**FAKE_SNOWFLAKE_ENV, variable: "PAGEVIEW; DROP DATABASE PAGEVIEW"}),
        pytest.raises(SettingsError, match=variable),
    ):
        get_settings()


@pytest.mark.parametrize("variable", ["PAGEVIEW_ENV", "PAGEVIEW_WAREHOUSE"])
def test_environment_and_warehouse_names_are_one_of_the_known_ones(variable: str) -> None:
    with (
        environment({**FAKE_SNOWFLAKE_ENV, variable: "prod; DROP SCHEMA bi"}),
        pytest.raises(SettingsError, match=variable),
    ):
        get_settings()


@pytest.mark.parametrize("name", ["core.io_sample; --", "day) OR (1=1", "", "1day"])
def test_names_the_io_manager_writes_into_sql_are_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        identifier(name)


# ---------------------------------------------------------------- environments


@pytest.mark.parametrize(
    "variable",
    [
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "SNOWFLAKE_ROLE",
        "SNOWFLAKE_WAREHOUSE",
    ],
)
def test_a_missing_snowflake_variable_is_a_one_line_error_naming_it(
    variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with environment({**FAKE_SNOWFLAKE_ENV, variable: ""}):
        assert cli.main(["deploy-schema"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and variable in error


def test_the_code_location_loads_with_snowflake_resources() -> None:
    with environment(FAKE_SNOWFLAKE_ENV):
        definitions = defs()
        graph = definitions.resolve_asset_graph()
        fact = graph.get(AssetKey(["core", "pageview_fact"]))
    assert isinstance(definitions.resources["warehouse"], SnowflakeWarehouse)
    assert "snowflake" in fact.kinds and "duckdb" not in fact.kinds


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_demo_and_bench_refuse_snowflake(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with environment(FAKE_SNOWFLAKE_ENV):
        assert cli.main([command]) == 2
    assert "DuckDB only" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "database", "sensors_running"),
    [("dev", "PAGEVIEW_DEV", True), ("test", "PAGEVIEW_TEST", False), ("prod", "PAGEVIEW", True)],
)
def test_each_environment_picks_its_database_and_whether_sensors_start(
    env: str, database: str, sensors_running: bool
) -> None:
    slack = {"PAGEVIEW_SLACK_TOKEN": "xoxb-test", "PAGEVIEW_SLACK_CHANNEL": "#alerts"}
    with environment(
        {**FAKE_SNOWFLAKE_ENV, **slack, "PAGEVIEW_ENV": env, "SNOWFLAKE_DATABASE": ""}
    ):
        settings = get_settings()
    assert settings.snowflake is not None and settings.snowflake.database == database
    assert settings.environment.sensors_running is sensors_running


def test_prod_refuses_to_start_without_slack() -> None:
    no_slack = {"PAGEVIEW_SLACK_TOKEN": "", "PAGEVIEW_SLACK_CHANNEL": ""}
    with (
        environment({**FAKE_SNOWFLAKE_ENV, **no_slack, "PAGEVIEW_ENV": "prod"}),
        pytest.raises(SettingsError, match="PAGEVIEW_SLACK_TOKEN"),
    ):
        get_settings()


def test_sql_params_are_never_formatted_into_the_text() -> None:
    params = {"start": "2024-01-01'; DROP TABLE x; --"}
    (statement,) = to_snowflake("SELECT $start AS day")
    assert statement.sql == "SELECT :1 AS day"
    assert statement.bind(params) == ["2024-01-01'; DROP TABLE x; --"]


# make test-snowflake: about 30 s of fakesnow runs; CI shows the same SQL translates (the test at
# the top of this module) and the same holds on DuckDB (test_held_reproductions, test_remedies).
@pytest.mark.snowflake_extended
def test_a_held_snapshot_is_kept_aside_and_accepted_on_snowflake(
    snowflake: SnowflakePlatform,
) -> None:
    """The hold, its listing and the acceptance run the same SQL on Snowflake."""
    others = [(100 + i, "Z1 1ZZ") for i in range(10)]
    snowflake.land_users([(1, "SW1A 1AA"), *others])
    snowflake.ingest_users("2024-01-01")
    snowflake.land_users([(1, "N1 9GU")])  # a partial extract: 1 user against 11
    with environment({"PAGEVIEW_MAX_SNAPSHOT_SHRINK": "0.5"}):
        assert snowflake.ingest_users("2024-01-02", expect_ok=False) == 1
        assert snowflake.query("SELECT snapshot_date, held_rows FROM ops.held_users_snapshots") == [
            (datetime(2024, 1, 2), 1)
        ]
        assert snowflake.query(
            "SELECT count(*) FROM raw.users_extract WHERE snapshot_date = '2024-01-02'"
        ) == [(0,)]
        assert cli.main(["accept-snapshot", "--date", "2024-01-02"]) == 0
    assert snowflake.query("SELECT count(*) FROM ops.held_users_snapshots") == [(0,)]
    assert snowflake.query(
        "SELECT postcode FROM raw.users_extract WHERE snapshot_date = '2024-01-02'"
    ) == [("N1 9GU",)]
    assert snowflake.query("SELECT postcode FROM bi.pageviews_by_current_postcode_hourly") == []
    assert snowflake.query(
        "SELECT postcode FROM core.user_postcode_history WHERE user_id = 1 AND is_current"
    ) == [("N1 9GU",)]
