"""The users of the operational system: who is listed on which day, where, and their extract."""

from __future__ import annotations

import math

from pageview_platform.simulator.config import SimulationConfig
from pageview_platform.simulator.hashing import Stream, sql_draw, sql_unit
from pageview_platform.simulator.postcodes import postcode_sql

# Kinds of bad user rows; the first three spoil the user's own row, the last two add a row.
_BAD_KINDS = 5
_NULL_POSTCODE, _EMPTY_POSTCODE, _BLANK_POSTCODE, _NULL_ID, _CONFLICTING = range(_BAD_KINDS)
# Deletion days past this are "never", and keep the DOUBLE -> BIGINT cast in range.
_NEVER = 10**15


def max_user_id_sql(cfg: SimulationConfig, day_sql: str) -> str:
    """SQL for the highest user id registered by the snapshot of a day index."""
    return f"({cfg.users} + ({day_sql}) * {cfg.new_users_per_day})"


def registered_day_sql(cfg: SimulationConfig, id_sql: str) -> str:
    """SQL for the first day index whose snapshot lists a user id."""
    per_day = max(1, cfg.new_users_per_day)
    return (
        f"(CASE WHEN ({id_sql}) <= {cfg.users} THEN 0"
        f" ELSE (({id_sql}) - {cfg.users} + {per_day - 1}) // {per_day} END)"
    )


def deleted_day_sql(cfg: SimulationConfig, id_sql: str, registered_sql: str) -> str:
    """SQL for the first day index whose snapshot no longer lists a user id."""
    if cfg.delete_share == 0.0:
        return str(_NEVER)
    if cfg.delete_share == 1.0:
        return f"(({registered_sql}) + 1)"
    # Inverse-CDF of a geometric draw: a listed user is deleted each day with delete_share.
    scale = 1.0 / math.log1p(-cfg.delete_share)
    draw = sql_unit(cfg.seed, Stream.DELETE, id_sql)
    lifetime = f"least(floor(ln(1.0 - {draw}) * {scale!r}), {_NEVER})::BIGINT"
    return f"(({registered_sql}) + 1 + {lifetime})"


def _move_draws_bound(cfg: SimulationConfig, day: int) -> int:
    """An upper bound on any day's move draws up to a day index, to size the cross join."""
    return int(cfg.move_share * (cfg.users + day * cfg.new_users_per_day)) + 1


def users_snapshot_sql(cfg: SimulationConfig, day: int) -> str:
    """SQL selecting (id, postcode) rows of the users extract taken at 00:00 of a day index."""
    seed = cfg.seed
    pool = cfg.postcode_pool_size
    per_kind = _BAD_KINDS / cfg.bad_row_share if cfg.bad_row_share else 0.0
    # Each day draws move_share of all ids registered by then; drawing deleted ids too keeps
    # every listed user's daily chance of moving at move_share. The filtered cross join
    # enumerates the draws far faster than a lateral range() would.
    moves = f"""
        SELECT
            1 + {sql_draw(seed, Stream.MOVE, "d", "k")} % {max_user_id_sql(cfg, "d")} AS id,
            max(d) AS last_move
        FROM range(1, {day} + 1) days(d), range({_move_draws_bound(cfg, day)}) draws(k)
        WHERE k < round({cfg.move_share!r} * {max_user_id_sql(cfg, "d")})
        GROUP BY 1
    """
    registered = f"""
        SELECT id, {registered_day_sql(cfg, "id")} AS registered
        FROM range(1, {max_user_id_sql(cfg, day)} + 1) ids(id)
    """
    # A user's postcode is redrawn at registration and at every move, so it only changes
    # between two snapshots when the user moved in between.
    home = sql_draw(
        seed, Stream.POSTCODE, "r.id", "greatest(r.registered, coalesce(m.last_move, 0))"
    )
    listed = f"""
        SELECT
            r.id,
            {home} % {pool} AS pool_index,
            {sql_draw(seed, Stream.USER_SHAPE, str(day), "r.id")} AS shape,
            {sql_unit(seed, Stream.USER_BAD, str(day), "r.id")} AS bad_draw,
            {sql_unit(seed, Stream.USER_MESSY, str(day), "r.id")} < {cfg.messy_share!r} AS messy,
            {sql_unit(seed, Stream.USER_DUPLICATE, str(day), "r.id")} < {cfg.duplicate_share!r}
                AS duplicated
        FROM registered r
        LEFT JOIN moves m USING (id)
        WHERE r.registered <= {day}
            AND {deleted_day_sql(cfg, "r.id", "r.registered")} > {day}
    """
    shaped = f"""
        SELECT
            id,
            pool_index,
            shape,
            duplicated,
            bad_kind,
            clean,
            CASE bad_kind
                WHEN {_NULL_POSTCODE} THEN NULL
                WHEN {_EMPTY_POSTCODE} THEN ''
                WHEN {_BLANK_POSTCODE} THEN [' ', '   ', chr(9), ' ' || chr(9)][1 + shape % 4]
                ELSE CASE WHEN NOT messy THEN clean WHEN shape % 4 = 0 THEN lower(clean)
                    WHEN shape % 4 = 1 THEN replace(clean, ' ', '  ')
                    WHEN shape % 4 = 2 THEN '  ' || clean || ' '
                    ELSE chr(9) || clean || chr(9) END
            END AS postcode
        FROM (
            SELECT
                *,
                {postcode_sql("pool_index")} AS clean,
                CASE WHEN bad_draw < {cfg.bad_row_share!r}
                    THEN floor(bad_draw * {per_kind!r})::INTEGER END AS bad_kind
            FROM listed
        )
    """
    conflicting = postcode_sql(f"(pool_index + 1 + shape // 4 % {pool - 1}) % {pool}")
    # Extra rows sort next to the user they came from, as a join fan-out in the extract would.
    return f"""
        WITH
            moves AS ({moves}),
            registered AS ({registered}),
            listed AS ({listed}),
            shaped AS MATERIALIZED ({shaped})
        SELECT id, postcode
        FROM (
            SELECT id, postcode, id AS near, 0 AS copy FROM shaped
            UNION ALL
            SELECT id, postcode, id, 1 FROM shaped WHERE duplicated
            UNION ALL
            SELECT NULL, clean, id, 2 FROM shaped WHERE bad_kind = {_NULL_ID}
            UNION ALL
            SELECT id, {conflicting}, id, 3 FROM shaped WHERE bad_kind = {_CONFLICTING}
        )
        ORDER BY near, copy
    """
