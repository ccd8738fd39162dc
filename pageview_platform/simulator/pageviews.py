"""The pageviews of the website and the hourly extract that lands them, overlaps and all."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from pageview_platform.simulator.config import SimulationConfig
from pageview_platform.simulator.hashing import Stream, python_unit, sql_draw, sql_unit
from pageview_platform.simulator.users import deleted_day_sql, max_user_id_sql, registered_day_sql

# Relative traffic per hour of day (UTC): a quiet night, a lunchtime bump, an evening peak.
_HOURLY_WEIGHTS = (
    0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.60, 0.80, 0.90, 0.95, 1.00,
    1.10, 1.05, 0.95, 0.90, 0.90, 0.95, 1.05, 1.20, 1.30, 1.20, 0.90, 0.60,
)  # fmt: skip
_HOUR_US = 3_600_000_000
# Late rows reach at most this many hours back, which bounds what one load has to look at.
_MAX_DELAY_HOURS = 24
# Unknown ids come from a range no registration ever reaches.
_UNKNOWN_ID_BASE = 10**12
_UNKNOWN_ID_SPAN = 10**6
# Candidates tried to find a listed viewer; the rare miss is a deleted user, as in production.
_VIEWER_CANDIDATES = 3
_BAD_KINDS = 7
_NULL_USER, _NULL_URL, _EMPTY_URL, _BLANK_URL, _NULL_TIME, _FUTURE_TIME, _ANCIENT_TIME = range(
    _BAD_KINDS
)
_FUTURE_SPAN_US = 5 * 365 * 24 * _HOUR_US
_YEAR_2000_US = 946_684_800_000_000
_URL_PREFIX = "https://www.website.com/page/"


def hourly_count(cfg: SimulationConfig, hour: int) -> int:
    """How many pageviews happen in an hour index, following the daily curve."""
    if hour < 0:
        return 0
    share = _HOURLY_WEIGHTS[hour % 24] / sum(_HOURLY_WEIGHTS)
    jitter = 0.9 + 0.2 * python_unit(cfg.seed, Stream.HOUR_VOLUME, hour)
    return round(cfg.pageviews_per_day * share * jitter)


@dataclass(frozen=True)
class _Lateness:
    """Which pageviews of an hour miss their own load: every stride-th one from an offset."""

    cfg: SimulationConfig

    @property
    def stride(self) -> int:
        """How far apart the late pageviews of an hour are in k."""
        return max(1, round(1 / self.cfg.late_share))

    def offset(self, hour: int) -> int:
        """The k of an hour's first late pageview."""
        return int(python_unit(self.cfg.seed, Stream.LATE_OFFSET, hour) * self.stride)

    def on_time_sql(self, hour: int) -> str:
        """SQL condition on k that holds for the pageviews of an hour that are not late."""
        if self.cfg.late_share == 0.0:
            return "TRUE"
        return f"k % {self.stride} <> {self.offset(hour)}"

    def count(self, hour: int) -> int:
        """How many pageviews of an hour are late."""
        spare = hourly_count(self.cfg, hour) - self.offset(hour)
        return max(0, -(-spare // self.stride))


def _overlap_count(cfg: SimulationConfig, hour: int, neighbour: int, stream: Stream) -> int:
    """How many of a neighbouring hour's pageviews (from its near edge) a load repeats."""
    share = min(1.0, 2 * cfg.overlap_share * python_unit(cfg.seed, stream, hour))
    return round(hourly_count(cfg, neighbour) * share)


def _late_rows_sql(cfg: SimulationConfig, hour: int, lateness: _Lateness) -> str | None:
    """SQL for the (g, k, n) of earlier hours' late pageviews that this load catches up on."""
    sources = [
        (past, lateness.offset(past), lateness.count(past), hourly_count(cfg, past))
        for past in range(hour - _MAX_DELAY_HOURS, hour)
        if cfg.late_share > 0.0 and lateness.count(past) > 0
    ]
    if not sources:
        return None
    values = ", ".join(
        f"({g}::BIGINT, {o}::BIGINT, {m}::BIGINT, {n}::BIGINT)" for g, o, m, n in sources
    )
    k = f"late.o + j * {lateness.stride}"
    delay_draw = sql_unit(cfg.seed, Stream.LATE_DELAY, "late.g", k)
    # Cubing skews delays towards an hour or two, with a tail up to a day.
    delay = f"1 + floor({_MAX_DELAY_HOURS} * pow({delay_draw}, 3))"
    return f"""
        SELECT late.g, {k} AS k, late.n
        FROM (VALUES {values}) late(g, o, m, n), range(late.m) r(j)
        WHERE {delay} = {hour} - late.g
    """


def _pairs_sql(cfg: SimulationConfig, hour: int) -> str:
    """SQL for the (g, k, n) keys of every pageview the load for an hour index extracts."""
    lateness = _Lateness(cfg)
    this_n = hourly_count(cfg, hour)
    next_n = hourly_count(cfg, hour + 1)
    prev_n = hourly_count(cfg, hour - 1)
    forward = _overlap_count(cfg, hour, hour + 1, Stream.OVERLAP_FORWARD)
    backward = _overlap_count(cfg, hour, hour - 1, Stream.OVERLAP_BACKWARD)
    branches = [
        f"SELECT {hour}::BIGINT AS g, k, {this_n}::BIGINT AS n FROM range({this_n}) r(k)"
        f" WHERE {lateness.on_time_sql(hour)}",
        # The extract runs a little after the hour and catches the next hour's first minutes.
        f"SELECT {hour + 1}::BIGINT, k, {next_n}::BIGINT FROM range({forward}) r(k)"
        f" WHERE {lateness.on_time_sql(hour + 1)}",
        # Its window also starts a little early, repeating the previous hour's last minutes.
        f"SELECT {hour - 1}::BIGINT, k, {prev_n}::BIGINT FROM range({prev_n - backward}, {prev_n})"
        f" r(k) WHERE {lateness.on_time_sql(hour - 1)}",
    ]
    late = _late_rows_sql(cfg, hour, lateness)
    if late is not None:
        branches.append(late)
    return "\nUNION ALL\n".join(branches)


def _viewer_sql(cfg: SimulationConfig) -> str:
    """SQL for the user_id of pageview (g, k), given candidate columns c1..cN."""
    seed = cfg.seed
    day = "(g // 24)"
    unknown = sql_unit(seed, Stream.VIEW_UNKNOWN, "g", "k")
    unknown_id = (
        f"{_UNKNOWN_ID_BASE} + {sql_draw(seed, Stream.VIEW_UNKNOWN, 'g', 'k', '1')}"
        f" % {_UNKNOWN_ID_SPAN}"
    )
    listed = [
        f"WHEN {deleted_day_sql(cfg, f'c{i}', registered_day_sql(cfg, f'c{i}'))} > {day} THEN c{i}"
        for i in range(1, _VIEWER_CANDIDATES)
    ]
    return (
        f"CASE WHEN {unknown} < {cfg.unknown_user_share!r} THEN {unknown_id} "
        f"{' '.join(listed)} ELSE c{_VIEWER_CANDIDATES} END"
    )


def pageviews_load_sql(cfg: SimulationConfig, hour: int) -> str:
    """SQL selecting the (user_id, url, pageview_datetime) rows of the load for an hour index."""
    seed = cfg.seed
    start_us = (cfg.start_date - date(1970, 1, 1)).days * 24 * _HOUR_US
    # Users who register during the day browse before the next snapshot lists them.
    candidates = ", ".join(
        f"1 + {sql_draw(seed, Stream.VIEW_USER, 'g', 'k', str(i))}"
        f" % {max_user_id_sql(cfg, 'g // 24 + 1')} AS c{i}"
        for i in range(1, _VIEWER_CANDIDATES + 1)
    )
    # Log-uniform page numbers: a few pages are very popular, most are rarely visited.
    page_draw = sql_unit(seed, Stream.VIEW_URL, "g", "k")
    page = f"floor(exp({page_draw} * {math.log(cfg.url_pool_size)!r}))::BIGINT"
    per_kind = _BAD_KINDS / cfg.bad_row_share if cfg.bad_row_share else 0.0
    bad_draw = sql_unit(seed, Stream.VIEW_BAD, str(hour), "g", "k")
    shape = sql_draw(seed, Stream.VIEW_SHAPE, str(hour), "g", "k")
    # Spreading the hour's pageviews in k order lets the overlaps pick them by k range.
    time_draw = sql_unit(seed, Stream.VIEW_TIME, "g", "k")
    return f"""
        WITH
            pairs AS ({_pairs_sql(cfg, hour)}),
            copies AS (
                SELECT g, k, n, 0 AS copy FROM pairs
                UNION ALL
                -- Double clicks: the extract holds the very same row twice.
                SELECT g, k, n, 1 FROM pairs
                WHERE {sql_unit(seed, Stream.VIEW_DUPLICATE, str(hour), "g", "k")}
                    < {cfg.duplicate_share!r}
                UNION ALL
                -- Bad rows come on top, so every genuine pageview still lands in its loads.
                SELECT g, k, n, 2 FROM pairs WHERE {bad_draw} < {cfg.bad_row_share!r}
            ),
            viewed AS (
                SELECT
                    g,
                    k,
                    {start_us} + g * {_HOUR_US}
                        + floor((k + {time_draw}) * {_HOUR_US} / n)::BIGINT
                        AS ts_us,
                    {_viewer_sql(cfg)} AS user_id,
                    '{_URL_PREFIX}' || {page} AS url,
                    {shape} AS shape,
                    CASE WHEN copy = 2 THEN floor({bad_draw} * {per_kind!r})::INTEGER END
                        AS bad_kind,
                    copy
                FROM (SELECT *, {candidates} FROM copies)
            )
        SELECT
            CASE WHEN bad_kind = {_NULL_USER} THEN NULL ELSE user_id END AS user_id,
            CASE bad_kind
                WHEN {_NULL_URL} THEN NULL
                WHEN {_EMPTY_URL} THEN ''
                WHEN {_BLANK_URL} THEN [' ', '   ', chr(9), ' ' || chr(9)][1 + shape % 4]
                ELSE url
            END AS url,
            CASE bad_kind
                WHEN {_NULL_TIME} THEN NULL
                WHEN {_FUTURE_TIME} THEN make_timestamp(
                    {start_us + 2 * _HOUR_US} + {hour} * {_HOUR_US} + shape % {_FUTURE_SPAN_US})
                WHEN {_ANCIENT_TIME} THEN make_timestamp(shape % {_YEAR_2000_US})
                ELSE make_timestamp(ts_us)
            END AS pageview_datetime
        FROM viewed
        ORDER BY ts_us, k, copy
    """
