from collections.abc import Iterator
from pathlib import Path

import pytest

from pageview_platform_tests.harness import Platform, platform_at


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A fresh warehouse file and Dagster instance for one test."""
    with platform_at(tmp_path) as p:
        yield p
