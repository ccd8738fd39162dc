"""The knobs of a simulation run, validated once so the SQL builders can trust them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

from pageview_platform.simulator.postcodes import POOL_CAPACITY

_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class SimulationConfig:
    """Size, start, seed and noise shares of one simulated operational system and its extracts."""

    seed: int = 42
    users: int = 500
    pageviews_per_day: int = 5000
    start_date: date = date(2024, 1, 1)
    days: int = 3
    move_share: float = 0.02
    new_user_share: float = 0.01
    delete_share: float = 0.005
    late_share: float = 0.01
    overlap_share: float = 0.02
    duplicate_share: float = 0.005
    bad_row_share: float = 0.002
    # Beyond the agreed interface: postcodes written untidily, and pageviews by ids never listed.
    messy_share: float = 0.01
    unknown_user_share: float = 0.001

    def __post_init__(self) -> None:
        if not _BIGINT_MIN <= self.seed <= _BIGINT_MAX:
            raise ValueError(f"seed must fit in a BIGINT, got {self.seed}")
        if self.users < 1:
            raise ValueError(f"users must be at least 1, got {self.users}")
        if self.pageviews_per_day < 0:
            raise ValueError(
                f"pageviews_per_day must not be negative, got {self.pageviews_per_day}"
            )
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if isinstance(self.start_date, datetime) or not isinstance(self.start_date, date):
            raise ValueError("start_date must be a date, not a datetime")
        for field in fields(self):
            if field.name.endswith("_share"):
                share = getattr(self, field.name)
                if not 0.0 <= share <= 1.0:
                    raise ValueError(f"{field.name} must be within [0, 1], got {share}")

    @property
    def new_users_per_day(self) -> int:
        """How many users register each day, as a fixed count so ids stay a closed formula."""
        return round(self.users * self.new_user_share)

    @property
    def postcode_pool_size(self) -> int:
        """How many distinct postcodes users are spread over."""
        return min(POOL_CAPACITY, max(50, self.users // 20))

    @property
    def url_pool_size(self) -> int:
        """How many distinct pages the website has."""
        return max(100, min(100_000, self.users // 10))
