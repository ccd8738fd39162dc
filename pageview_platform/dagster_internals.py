"""Every name this platform takes from Dagster's private modules (`dagster._…`), and only here.

Dagster offers no public API for these; an upgrade may move or change them, and
pageview_platform_tests/test_dagster_internals.py fails loudly, naming the one that changed.
Every other module imports from `dagster` (public) or from this module, never from `dagster._`.
"""

from __future__ import annotations

import os
from collections import OrderedDict

# What each is for:
# - the run tags Dagster itself sets and reads: the partition (or range) of a run, its backfill;
# - the CLI's launch (runs.py): the job reconstructed from the definitions module, a run recorded
#   in the instance with the code location's origin, as the webserver records it (so the UI can
#   re-execute it), then executed in this process;
#   Dagster's public execute_job records a run of its own, without that origin;
# - types only: what define_asset_job returns, a step's stats, a serialized error, and the
#   kind of an instigator (sensor or schedule) whose state the live demo reads;
# - the database I/O manager's parts, which dagster-duckdb and dagster-snowflake build on and
#   the pandas I/O managers (warehouse/frames.py) adapt: client, handler, table slice, metadata;
# - the SQLite instance storages' engine factory, which reuse_sqlite_engines() wraps.
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.execution.api import execute_run
from dagster._core.execution.stats import RunStepKeyStatsSnapshot
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.db_io_manager import DbClient, DbIOManager, DbTypeHandler, TableSlice
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.runs.sqlite import sqlite_run_storage
from dagster._core.storage.schedules.sqlite import sqlite_schedule_storage
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.error import SerializableErrorInfo
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool, QueuePool

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "BACKFILL_ID_TAG",
    "PARTITION_NAME_TAG",
    "DbClient",
    "DbIOManager",
    "DbTypeHandler",
    "InProcessCodeLocationOrigin",
    "InstigatorType",
    "LoadableTargetOrigin",
    "ReconstructableJob",
    "ReconstructableRepository",
    "RemoteJobOrigin",
    "RemoteRepositoryOrigin",
    "RunStepKeyStatsSnapshot",
    "SerializableErrorInfo",
    "TableMetadataSet",
    "TableSlice",
    "UnresolvedAssetJobDefinition",
    "execute_run",
]


# The modules of Dagster's SQLite storages (the default instance: runs, event logs, schedules),
# each of which names the engine factory `create_engine`.
SQLITE_STORAGE_MODULES = (sqlite_event_log, sqlite_run_storage, sqlite_schedule_storage)
_ENGINES_KEPT = 32


def reuse_sqlite_engines() -> None:
    """Makes Dagster's SQLite storages reuse one SQLAlchemy engine, and its open connection, per
    database file.

    They build a new engine for every transaction (about 550 in one ingest run) and, with
    NullPool, open and close a SQLite connection each time; in WAL mode the last connection's
    close checkpoints the file. Each event of a run paid that set-up and checkpoint: about half
    of its cost. The engines here keep one connection open between uses (a QueuePool of one,
    overflowing while threads share it), so a run's events reuse it; locking is unchanged,
    since SQLite locks per transaction, not per connection. Dagster disposes its engine after
    each use: that dispose is ignored, and an engine is disposed for real when it leaves the
    cache. Idempotent; on a Postgres instance nothing calls these factories.

    Their connections commit with `synchronous=NORMAL`, SQLite's advice for WAL mode: a commit
    no longer waits for the disk (an fsync per event, about 1.5 ms each and 170 a run), the
    file cannot be corrupted, and only a power cut, not a crash of the process, can lose the
    last events. The data is not there: the warehouse keeps what was captured and merged.
    """
    for module in SQLITE_STORAGE_MODULES:
        if not getattr(module.create_engine, "reuses_engines", False):
            module.create_engine = _reusing(module.create_engine)


def _reusing(create_engine):  # noqa: ANN001, ANN202 (Dagster's factory, and its wrapper)
    engines: OrderedDict[tuple[str, str], tuple[object, object]] = OrderedDict()

    def create_engine_once(url, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if kwargs.get("poolclass") is not NullPool:
            return create_engine(url, **kwargs)
        key = (str(url), repr(sorted(kwargs.items(), key=lambda item: item[0])))
        cached = engines.get(key)
        if cached is None:
            pooled = {name: value for name, value in kwargs.items() if name != "poolclass"}
            # Threads of one process (the webserver's) may share the pooled connection.
            pooled["connect_args"] = {**kwargs.get("connect_args", {}), "check_same_thread": False}
            engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=8, **pooled)
            _reconnect_when_replaced(engine)
            event.listen(engine, "connect", _commit_without_fsync)
            cached = engines[key] = (engine, engine.dispose)
            engine.dispose = _kept_open
            while len(engines) > _ENGINES_KEPT:  # a process of many runs: one file per run
                engines.popitem(last=False)[1][1]()
        else:
            engines.move_to_end(key)
        return cached[0]

    create_engine_once.reuses_engines = True
    return create_engine_once


def _commit_without_fsync(dbapi_connection, _record) -> None:  # noqa: ANN001
    """WAL mode's recommended durability: commits wait for no fsync (see reuse_sqlite_engines)."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _kept_open(*_args: object, **_kwargs: object) -> None:
    """Dagster's dispose after each use of a cached engine: its connection stays open."""


def _reconnect_when_replaced(engine) -> None:  # noqa: ANN001 (a SQLAlchemy engine)
    """A kept connection is dropped when its file was deleted or replaced since it was opened
    (a wiped instance, a test's fresh DAGSTER_HOME at the same path): it would write to the old
    file. SQLAlchemy's way: DisconnectionError on checkout makes the pool reconnect."""
    path = engine.url.database

    def inode() -> int | None:
        try:
            return os.stat(path).st_ino
        except OSError:
            return None

    @event.listens_for(engine, "connect")
    def remember(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["inode"] = inode()

    @event.listens_for(engine, "checkout")
    def check(_dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        if record.info.get("inode") != inode():
            raise DisconnectionError(f"{path} was replaced since this connection opened it")
