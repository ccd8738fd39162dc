"""Deterministic pseudo-randomness for the simulator, in SQL for rows and in Python for hours."""

from __future__ import annotations

import hashlib
from enum import IntEnum

_TWO_POW_53 = 9007199254740992.0


class Stream(IntEnum):
    """Separates the random draws so that no two decisions share a hash."""

    MOVE = 1
    POSTCODE = 2
    DELETE = 3
    USER_BAD = 4
    USER_MESSY = 5
    USER_DUPLICATE = 6
    USER_SHAPE = 7
    HOUR_VOLUME = 8
    OVERLAP_FORWARD = 9
    OVERLAP_BACKWARD = 10
    LATE_OFFSET = 11
    LATE_DELAY = 12
    VIEW_TIME = 13
    VIEW_USER = 14
    VIEW_UNKNOWN = 15
    VIEW_URL = 16
    VIEW_DUPLICATE = 17
    VIEW_BAD = 18
    VIEW_SHAPE = 19


def _sql_hash(seed: int, stream: Stream, *parts: str) -> str:
    """SQL for a UBIGINT hash of the seed, a stream and integer-valued SQL expressions."""
    args = ", ".join((f"{seed}::BIGINT", f"{int(stream)}", *parts))
    return f"hash({args})"


def sql_draw(seed: int, stream: Stream, *parts: str) -> str:
    """SQL for a BIGINT uniform in [0, 2^63), the type that keeps `%` off slow HUGEINT maths."""
    return f"({_sql_hash(seed, stream, *parts)} >> 1)::BIGINT"


def sql_unit(seed: int, stream: Stream, *parts: str) -> str:
    """SQL for a DOUBLE uniform in [0, 1)."""
    return f"({_sql_hash(seed, stream, *parts)} >> 11)::DOUBLE / {_TWO_POW_53}"


def python_unit(seed: int, stream: Stream, *parts: int) -> float:
    """A float uniform in [0, 1) for per-hour decisions, stable across processes and platforms."""
    digest = hashlib.blake2b(repr((seed, int(stream), *parts)).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / _TWO_POW_53
