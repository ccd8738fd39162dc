"""The platform's settings, read from the environment in one place."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Whether a publish of the BI database keeps the file it replaces (the spare) and patches it
# instead of a copy of the published file, where it can (on), or copies and keeps no spare
# (off). warehouse/publish.py.
BI_SPARE_MODES = ("on", "off")


class SettingsError(ValueError):
    """An environment variable holds a value the platform cannot use."""


class StartDateChanged(SettingsError):
    """PAGEVIEW_START_DATE differs from the start date the warehouse records."""

    def __init__(self, configured: date, recorded: date, warehouse: str, pinned: bool) -> None:
        """PINNED: the record is a DuckDB pin, the default when PAGEVIEW_START_DATE is unset;
        otherwise PAGEVIEW_START_DATE may be unset (CONFIGURED is then the default)."""
        self.configured, self.recorded = configured, recorded
        defaulted = not os.environ.get("PAGEVIEW_START_DATE")
        given = " (the default)" if defaulted else ""
        keep = f"set PAGEVIEW_START_DATE={recorded}" + (" (or unset it)" if pinned else "")
        super().__init__(
            f"PAGEVIEW_START_DATE is {configured}{given} but the warehouse {warehouse} records"
            f" start date {recorded}: {keep} to keep it, or move the warehouse with"
            f" `pageview-platform set-start-date {configured}` (docs/operations.md); nothing ran"
        )


WAREHOUSES = ("duckdb", "snowflake")


@dataclass(frozen=True)
class Environment:
    """What differs between dev, test and prod when nothing else is set."""

    snowflake_database: str
    sensors_running: bool
    slack_required: bool


# One database per environment, so promotion is the same code with another PAGEVIEW_ENV.
# Sensors stay stopped in test: a shared test account is driven by explicit runs only. Prod
# alerts must reach people, so it refuses to start without Slack.
ENVIRONMENTS = {
    "dev": Environment("PAGEVIEW_DEV", sensors_running=True, slack_required=False),
    "test": Environment("PAGEVIEW_TEST", sensors_running=False, slack_required=False),
    "prod": Environment("PAGEVIEW", sensors_running=True, slack_required=True),
}

# A Snowflake name the platform puts into SQL text (database, role, warehouse): a plain
# identifier, so no environment variable can smuggle SQL into a statement.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")


@dataclass(frozen=True)
class SnowflakeSettings:
    """How to reach the Snowflake account; only read when PAGEVIEW_WAREHOUSE=snowflake."""

    account: str
    user: str
    role: str
    warehouse: str
    database: str
    password: str | None = None
    private_key: str | None = None
    private_key_path: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    bi_role: str = "PAGEVIEW_BI_READER"
    bi_warehouse: str = "PAGEVIEW_BI"
    grants_role: str = "SECURITYADMIN"

    def resource_config(self) -> dict[str, object]:
        """The fields dagster-snowflake's resource and I/O manager take, unset ones left out."""
        config: dict[str, object] = {
            "account": self.account,
            "user": self.user,
            "role": self.role,
            "warehouse": self.warehouse,
            "database": self.database,
            "password": self.password,
            "private_key": self.private_key,
            "private_key_path": self.private_key_path,
        }
        extra = {"host": self.host, "port": self.port, "protocol": self.protocol}
        extra = {name: value for name, value in extra.items() if value is not None}
        if extra:
            config["additional_snowflake_connection_args"] = extra
        return {name: value for name, value in config.items() if value is not None}


@dataclass(frozen=True)
class Settings:
    """Where the warehouse lives and which dates the partitions cover."""

    duckdb_path: Path
    start_date: date
    dagster_home: Path
    duckdb_memory_limit: str
    duckdb_threads: int
    max_snapshot_shrink: float
    # The BI database each run publishes on DuckDB (warehouse/publish.py).
    bi_duckdb_path: Path
    # How many days before the latest users snapshot the current-postcode hourly and daily
    # answers keep (monthly keeps all history): ops.current_postcode_window.
    current_postcode_recent_days: int = 7
    # Whether a publish patches the spare BI database file rather than a copy (BI_SPARE_MODES).
    bi_spare: str = "on"
    slack_token: str | None = None
    slack_channel: str | None = None
    warehouse: str = "duckdb"
    env: str = "dev"
    snowflake: SnowflakeSettings | None = None

    @property
    def environment(self) -> Environment:
        return ENVIRONMENTS[self.env]

    @property
    def duckdb_connection_config(self) -> dict[str, object]:
        return {"memory_limit": self.duckdb_memory_limit, "threads": self.duckdb_threads}


def _parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise SettingsError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from err


def _parse_positive_int(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _parse_fraction(name: str, value: str) -> float:
    problem = f"{name} must be a fraction from 0 to 1, got {value!r}"
    try:
        fraction = float(value)
    except ValueError as err:
        raise SettingsError(problem) from err
    # The negated test also rejects NaN.
    if not 0 <= fraction <= 1:
        raise SettingsError(problem)
    return fraction


def _slack(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    token = env.get("PAGEVIEW_SLACK_TOKEN") or None
    channel = env.get("PAGEVIEW_SLACK_CHANNEL") or None
    # Half a Slack configuration would quietly keep alerts out of Slack.
    if (token is None) != (channel is None):
        raise SettingsError("PAGEVIEW_SLACK_TOKEN and PAGEVIEW_SLACK_CHANNEL must be set together")
    return token, channel


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise SettingsError(f"{name} is not set (needed with PAGEVIEW_WAREHOUSE=snowflake)")
    return value


def _identifier(name: str, value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise SettingsError(
            f"{name} must be a plain Snowflake identifier (letters, digits, _ and $), got {value!r}"
        )
    return value


def _snowflake(env: Mapping[str, str], environment: Environment) -> SnowflakeSettings:
    secrets = {
        name: env.get(name) or None
        for name in ("SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PATH")
    }
    if not any(secrets.values()):
        raise SettingsError(
            "SNOWFLAKE_PASSWORD is not set (or SNOWFLAKE_PRIVATE_KEY / SNOWFLAKE_PRIVATE_KEY_PATH)"
        )
    port = env.get("SNOWFLAKE_PORT")
    database = _identifier(
        "SNOWFLAKE_DATABASE", env.get("SNOWFLAKE_DATABASE") or environment.snowflake_database
    )
    warehouse = _identifier("SNOWFLAKE_WAREHOUSE", _required(env, "SNOWFLAKE_WAREHOUSE"))
    return SnowflakeSettings(
        account=_required(env, "SNOWFLAKE_ACCOUNT"),
        user=_required(env, "SNOWFLAKE_USER"),
        role=_identifier("SNOWFLAKE_ROLE", _required(env, "SNOWFLAKE_ROLE")),
        warehouse=warehouse,
        database=database,
        password=secrets["SNOWFLAKE_PASSWORD"],
        private_key=secrets["SNOWFLAKE_PRIVATE_KEY"],
        private_key_path=secrets["SNOWFLAKE_PRIVATE_KEY_PATH"],
        host=env.get("SNOWFLAKE_HOST") or None,
        port=_parse_positive_int("SNOWFLAKE_PORT", port) if port else None,
        protocol=_choice(env, "SNOWFLAKE_PROTOCOL", ("https", "http"), "https")
        if env.get("SNOWFLAKE_PROTOCOL")
        else None,
        bi_role=_identifier(
            "PAGEVIEW_BI_ROLE", env.get("PAGEVIEW_BI_ROLE") or f"{database}_BI_READER"
        ),
        bi_warehouse=_identifier(
            "PAGEVIEW_BI_WAREHOUSE", env.get("PAGEVIEW_BI_WAREHOUSE") or warehouse
        ),
        grants_role=_identifier(
            "PAGEVIEW_GRANTS_ROLE", env.get("PAGEVIEW_GRANTS_ROLE") or "SECURITYADMIN"
        ),
    )


DEFAULT_START_DATE = "2024-01-01"


def start_date_pin(duckdb_path: Path) -> Path:
    """The file beside a DuckDB warehouse that records the start date it was created with."""
    return duckdb_path.with_name(f"{duckdb_path.stem}.settings.json")


def pin_start_date(duckdb_path: Path, start_date: date, **extra: object) -> None:
    """Records START_DATE beside the warehouse, unless a start date is already recorded."""
    pin = start_date_pin(duckdb_path)
    if not pin.exists():
        pin.write_text(json.dumps({"start_date": start_date.isoformat(), **extra}) + "\n")


def pinned_start_date(duckdb_path: Path) -> date | None:
    """The start date recorded beside the DuckDB warehouse, if one is."""
    pin = start_date_pin(duckdb_path)
    if not pin.exists():
        return None
    value = json.loads(pin.read_text()).get("start_date", DEFAULT_START_DATE)
    return _parse_date(f"the start date in {pin}", str(value))


def repin_start_date(duckdb_path: Path, start_date: date) -> None:
    """Replaces the recorded start date (`set-start-date` only), keeping the pin's other keys;
    the new file replaces the old in one step, so a crash leaves one or the other."""
    pin = start_date_pin(duckdb_path)
    recorded = json.loads(pin.read_text()) if pin.exists() else {}
    staged = pin.with_name(f"{pin.name}.tmp")
    staged.write_text(json.dumps({**recorded, "start_date": start_date.isoformat()}) + "\n")
    os.replace(staged, pin)


def _start_date(env: Mapping[str, str], duckdb_path: Path, on_duckdb: bool, check: bool) -> date:
    """PAGEVIEW_START_DATE, else the start date the DuckDB warehouse was created with, so the
    CLI, the UI and the daemon see the same partitions without sharing an environment.

    With CHECK, a PAGEVIEW_START_DATE other than the one an existing DuckDB warehouse records is
    refused: the partitions and the validation rules would judge new loads by another date than
    the loads already captured. `pageview-platform set-start-date` moves it.
    """
    value = env.get("PAGEVIEW_START_DATE") or None
    # Only a DuckDB warehouse has a pin; Snowflake records its start date in the warehouse.
    pinned = pinned_start_date(duckdb_path) if on_duckdb else None
    if value is None:
        return pinned or _parse_date("PAGEVIEW_START_DATE", DEFAULT_START_DATE)
    configured = _parse_date("PAGEVIEW_START_DATE", value)
    if check and pinned is not None and pinned != configured and duckdb_path.exists():
        raise StartDateChanged(configured, pinned, f"at {duckdb_path}", pinned=True)
    return configured


def _path(env: Mapping[str, str], name: str, default: str) -> Path:
    """An absolute path: a relative one is taken from the project folder, not the working one, so
    the CLI run from any folder, the UI and the daemon all resolve the same file."""
    path = Path(env.get(name) or default).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def get_settings(check_start_date: bool = True) -> Settings:
    """Reads the settings afresh, so tests can point the platform at a scratch warehouse.

    Raises StartDateChanged when PAGEVIEW_START_DATE differs from the start date pinned beside
    an existing DuckDB warehouse, unless CHECK_START_DATE is false (the commands that make their
    own warehouse, and `set-start-date`). On Snowflake the start date is recorded in the
    warehouse, and the CLI compares it before it writes (pageview_platform.start_date).
    """
    env = os.environ
    slack_token, slack_channel = _slack(env)
    environment_name = _choice(env, "PAGEVIEW_ENV", tuple(ENVIRONMENTS), "dev")
    environment = ENVIRONMENTS[environment_name]
    if environment.slack_required and slack_token is None:
        raise SettingsError(
            f"PAGEVIEW_SLACK_TOKEN is not set (PAGEVIEW_ENV={environment_name} alerts to Slack)"
        )
    warehouse = _choice(env, "PAGEVIEW_WAREHOUSE", WAREHOUSES, "duckdb")
    duckdb_path = _path(env, "PAGEVIEW_DUCKDB_PATH", "data/warehouse.duckdb")
    return Settings(
        duckdb_path=duckdb_path,
        start_date=_start_date(
            env, duckdb_path, on_duckdb=warehouse == "duckdb", check=check_start_date
        ),
        dagster_home=_path(env, "DAGSTER_HOME", ".dagster_home"),
        duckdb_memory_limit=env.get("PAGEVIEW_DUCKDB_MEMORY_LIMIT", "4GB"),
        duckdb_threads=_parse_positive_int(
            "PAGEVIEW_DUCKDB_THREADS", env.get("PAGEVIEW_DUCKDB_THREADS", str(os.cpu_count() or 2))
        ),
        max_snapshot_shrink=_parse_fraction(
            "PAGEVIEW_MAX_SNAPSHOT_SHRINK", env.get("PAGEVIEW_MAX_SNAPSHOT_SHRINK", "0.10")
        ),
        # Unset, beside the warehouse (data/bi.duckdb by default), so two warehouses (a test's,
        # the bench's) never publish over one another.
        bi_duckdb_path=_path(
            env, "PAGEVIEW_BI_DUCKDB_PATH", str(duckdb_path.with_name("bi.duckdb"))
        ),
        current_postcode_recent_days=_parse_positive_int(
            "PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS",
            env.get("PAGEVIEW_CURRENT_POSTCODE_RECENT_DAYS", "7"),
        ),
        bi_spare=_choice(env, "PAGEVIEW_BI_SPARE", BI_SPARE_MODES, "on"),
        slack_token=slack_token,
        slack_channel=slack_channel,
        warehouse=warehouse,
        env=environment_name,
        snowflake=_snowflake(env, environment) if warehouse == "snowflake" else None,
    )
