"""UK-looking postcodes, each a pure SQL function of its index in the pool."""

from __future__ import annotations

# Real postcode areas, so that generated codes look plausible to a human reading the tables.
_AREAS = (
    "AB", "B", "BN", "BS", "CB", "CF", "CH", "CV", "DE", "E", "EC", "EH", "G", "GL", "L", "LE",
    "LS", "M", "N", "NE", "NG", "NW", "OX", "PL", "S", "SE", "SO", "SW", "W", "WC",
)  # fmt: skip
_DISTRICTS_PER_AREA = 20
# Central London districts are split by a trailing letter, as in 'SW1A 1AA'.
_SPLIT_DISTRICT_AREAS = frozenset({"EC", "SW", "W", "WC"})
# Inward codes never use C, I, K, M, O or V, so leaving them out keeps the look authentic.
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_INWARD_DIGITS = 10

OUTWARD_CODES = tuple(
    f"{area}{district}{'A' if district == 1 and area in _SPLIT_DISTRICT_AREAS else ''}"
    for district in range(1, _DISTRICTS_PER_AREA + 1)
    for area in _AREAS
)
INWARD_CODES = tuple(
    f"{digit}{first}{second}"
    for second in _INWARD_LETTERS
    for first in _INWARD_LETTERS
    for digit in range(_INWARD_DIGITS)
)
POOL_CAPACITY = len(OUTWARD_CODES) * len(INWARD_CODES)
# A multiplier coprime with POOL_CAPACITY scatters a small pool over areas and inward codes alike.
_SCATTER = 1_000_003


def postcode_sql(index_sql: str) -> str:
    """SQL turning a pool index in [0, POOL_CAPACITY) into its canonical postcode string.

    Two constant lists beat both string assembly and a join to a pool table for speed.
    """
    scattered = f"((({index_sql}) * {_SCATTER} + 1) % {POOL_CAPACITY})"
    outwards = ", ".join(f"'{code}'" for code in OUTWARD_CODES)
    inwards = ", ".join(f"'{code}'" for code in INWARD_CODES)
    n_out = len(OUTWARD_CODES)
    return (
        f"([{outwards}][1 + {scattered} % {n_out}] || ' '"
        f" || [{inwards}][1 + {scattered} // {n_out}])"
    )
