"""The private Dagster names the platform relies on still exist with the shape it uses.

Each failure names the name and what changed, so a Dagster upgrade that moves one says where to
look (pageview_platform/dagster_internals.py, the only module that imports them).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy.pool import NullPool, StaticPool

from pageview_platform import dagster_internals as internals

PACKAGE = Path(internals.__file__).parent
ISOLATED = PACKAGE / "dagster_internals.py"
# A private module of dagster (dagster._core…), not a dunder (dagster.__version__).
PRIVATE = re.compile(r"\bdagster\._(?!_)")


def _keywords(function: Callable[..., object]) -> set[str]:
    return set(inspect.signature(function).parameters)


def _missing(name: str, function: Callable[..., object], needed: set[str]) -> str | None:
    absent = needed - _keywords(function)
    return f"{name} no longer takes {sorted(absent)}" if absent else None


def _attributes(name: str, owner: object, needed: set[str]) -> str | None:
    absent = {attribute for attribute in needed if not hasattr(owner, attribute)}
    return f"{name} no longer has {sorted(absent)}" if absent else None


def _tag(name: str, expected: str) -> Callable[[], str | None]:
    def check() -> str | None:
        value = getattr(internals, name)
        return None if value == expected else f"{name} is {value!r}, not {expected!r}"

    return check


def _create_run_for_job() -> str | None:
    # runs.py records each run with these keyword arguments.
    return _missing(
        "DagsterInstance.create_run_for_job",
        dg.DagsterInstance.create_run_for_job,
        {"job_def", "run_config", "tags", "remote_job_origin", "job_code_origin"},
    )


def _reconstructable_repository() -> str | None:
    repository = internals.ReconstructableRepository
    return _missing(
        "ReconstructableRepository.for_module",
        repository.for_module,
        {"module", "fn_name", "working_directory"},
    ) or _attributes("ReconstructableRepository", repository, {"get_reconstructable_job"})


def _fields(name: str, needed: set[str]) -> Callable[[], str | None]:
    # Dagster's records and named tuples: built by keyword, or read, by their fields.
    def check() -> str | None:
        absent = needed - set(getattr(getattr(internals, name), "_fields", ()))
        return f"{name} no longer has the fields {sorted(absent)}" if absent else None

    return check


def _code_location_origin() -> str | None:
    return _missing(
        "InProcessCodeLocationOrigin()",
        internals.InProcessCodeLocationOrigin,
        {"loadable_target_origin", "location_name"},
    )


def _reconstructable_job() -> str | None:
    # run_launcher clears the definitions Dagster cached from the last environment.
    for method in ("get_definition", "get_repository_definition"):
        if not hasattr(getattr(internals.ReconstructableJob, method, None), "cache_clear"):
            return f"ReconstructableJob.{method} is no longer a cache with cache_clear()"
    return _attributes("ReconstructableJob", internals.ReconstructableJob, {"get_python_origin"})


def _execute_run() -> str | None:
    parameters = list(inspect.signature(internals.execute_run).parameters)
    if parameters[:3] != ["job", "dagster_run", "instance"]:
        return f"execute_run takes {parameters}, not (job, dagster_run, instance, ...)"
    return None


def _unresolved_asset_job() -> str | None:
    job = dg.define_asset_job("probe", selection=dg.AssetSelection.all())
    if not isinstance(job, internals.UnresolvedAssetJobDefinition):
        return f"define_asset_job returns {type(job).__name__}, not UnresolvedAssetJobDefinition"
    return None


def _instigator_type() -> str | None:
    if getattr(internals.InstigatorType, "SENSOR", None) is None:
        return "InstigatorType has no SENSOR"
    return _missing(
        "DagsterInstance.all_instigator_state",
        dg.DagsterInstance.all_instigator_state,
        {"instigator_type"},
    )


def _serializable_error() -> str | None:
    return _missing(
        "SerializableErrorInfo", internals.SerializableErrorInfo, {"message", "cls_name", "cause"}
    )


def _db_io_manager() -> str | None:
    return _missing(
        "DbIOManager()",
        internals.DbIOManager.__init__,
        {"type_handlers", "db_client", "database", "schema", "io_manager_name"}
        | {"default_load_type"},
    )


def _db_client() -> str | None:
    return _attributes(
        "DbClient",
        internals.DbClient,
        {"connect", "delete_table_slice", "ensure_schema_exists", "get_select_statement"},
    )


def _db_type_handler() -> str | None:
    return _attributes(
        "DbTypeHandler", internals.DbTypeHandler, {"handle_output", "load_input", "supported_types"}
    )


def _table_metadata_set() -> str | None:
    return _missing(
        "TableMetadataSet()",
        internals.TableMetadataSet,
        {"row_count", "partition_row_count", "column_schema"},
    )


# What the platform relies on, per exported name.
SHAPES: dict[str, Callable[[], str | None]] = {
    "PARTITION_NAME_TAG": _tag("PARTITION_NAME_TAG", "dagster/partition"),
    "ASSET_PARTITION_RANGE_START_TAG": _tag(
        "ASSET_PARTITION_RANGE_START_TAG", "dagster/asset_partition_range_start"
    ),
    "ASSET_PARTITION_RANGE_END_TAG": _tag(
        "ASSET_PARTITION_RANGE_END_TAG", "dagster/asset_partition_range_end"
    ),
    "BACKFILL_ID_TAG": _tag("BACKFILL_ID_TAG", "dagster/backfill"),
    "InProcessCodeLocationOrigin": _code_location_origin,
    "ReconstructableRepository": lambda: _reconstructable_repository() or _create_run_for_job(),
    "RemoteRepositoryOrigin": _fields(
        "RemoteRepositoryOrigin", {"code_location_origin", "repository_name"}
    ),
    "RemoteJobOrigin": _fields("RemoteJobOrigin", {"repository_origin", "job_name"}),
    "LoadableTargetOrigin": _fields("LoadableTargetOrigin", {"module_name", "working_directory"}),
    "ReconstructableJob": _reconstructable_job,
    "execute_run": _execute_run,
    "UnresolvedAssetJobDefinition": _unresolved_asset_job,
    "InstigatorType": _instigator_type,
    "RunStepKeyStatsSnapshot": _fields(
        "RunStepKeyStatsSnapshot", {"step_key", "start_time", "end_time", "materialization_events"}
    ),
    "SerializableErrorInfo": _serializable_error,
    "DbIOManager": _db_io_manager,
    "DbClient": _db_client,
    "DbTypeHandler": _db_type_handler,
    "TableSlice": _fields("TableSlice", {"table", "schema", "columns", "partition_dimensions"}),
    "TableMetadataSet": _table_metadata_set,
}


def test_every_exported_name_has_its_shape_checked() -> None:
    unchecked = sorted(set(internals.__all__) - set(SHAPES))
    assert not unchecked, f"dagster_internals exports {unchecked} with no check in SHAPES"


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_private_name_keeps_the_shape_the_platform_uses(name: str) -> None:
    assert name in internals.__all__, f"{name} is checked but not exported by dagster_internals"
    problem = SHAPES[name]()
    assert problem is None, f"dagster_internals.{name}: {problem} (Dagster {dg.__version__})"


def test_only_dagster_internals_imports_private_dagster_modules() -> None:
    offenders = sorted(
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if path != ISOLATED and PRIVATE.search(path.read_text())
    )
    assert not offenders, f"`dagster._` outside dagster_internals.py in {offenders}"


def test_sqlite_storages_build_their_engines_through_the_factory_reuse_wraps(
    tmp_path: Path,
) -> None:
    """Each SQLite storage still calls `create_engine` from its module (the name the wrapper
    replaces), and once wrapped, a file's NullPool engine is built once; other pools are not
    cached."""
    for module in internals.SQLITE_STORAGE_MODULES:
        assert "create_engine(" in inspect.getsource(module), module.__name__
        assert callable(module.create_engine), module.__name__
    internals.reuse_sqlite_engines()
    internals.reuse_sqlite_engines()  # idempotent: wrapped once
    factory = internals.sqlite_event_log.create_engine
    assert factory.reuses_engines
    url = f"sqlite:///{tmp_path / 'events.db'}"
    first = factory(url, poolclass=NullPool, connect_args={"timeout": 5})
    assert factory(url, poolclass=NullPool, connect_args={"timeout": 5}) is first
    assert factory(url, poolclass=NullPool, connect_args={"timeout": 6}) is not first
    assert factory(url, poolclass=StaticPool) is not factory(url, poolclass=StaticPool)
    with first.connect() as connection:  # still a working engine, a connection per use
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1


def test_a_reused_engine_keeps_its_connection_until_the_file_is_replaced(tmp_path: Path) -> None:
    """Dagster disposes the engine after each use; the reused one keeps its SQLite connection
    (no open and WAL checkpoint per event), and opens a new one when the file was replaced."""
    internals.reuse_sqlite_engines()
    factory = internals.sqlite_event_log.create_engine
    database = tmp_path / "run.db"
    engine = factory(f"sqlite:///{database}", poolclass=NullPool)

    def used_connection() -> object:
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            connection.commit()
            raw = connection.connection.dbapi_connection
        engine.dispose()  # what Dagster does after every use
        return raw

    first = used_connection()
    assert used_connection() is first
    database.unlink()
    replaced = used_connection()
    assert replaced is not first
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
        # NORMAL (1), not SQLite's default FULL (2): a commit does not wait for the disk.
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
