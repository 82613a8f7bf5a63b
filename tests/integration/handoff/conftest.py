"""A runtime whose staff are always at work."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from handoff_helpers import make_runtime

from bot.app import Runtime
from bot.config import Settings


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = make_runtime(settings)
    yield runtime
    runtime.services.db.dispose()
