"""An HTTP client and API tokens over the runtime of each database."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.web.app import create_app
from domain.staff import create_api_token


@pytest.fixture
def api(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def tokens(runtime) -> dict[str, dict[str, str]]:
    """Authorization headers per role."""
    out = {}
    with runtime.services.db.session() as s:
        for role in ("reviewer", "agent", "supervisor", "content_manager"):
            out[role] = {"Authorization": f"Bearer {create_api_token(s, f'{role}-tool', role)}"}
    return out
