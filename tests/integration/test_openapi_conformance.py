"""The REST API answers what /openapi.json says, checked by schemathesis against the ASGI app with an
admin token, on SQLite and PostgreSQL: no 5xx, no status code, media type or body the description
does not name. A bounded run (a few hundred cases); the named holes of issue 14 are checked by hand."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.config import load_settings
from bot.web.app import create_app
from domain.staff import create_api_token
from tests.testbot import build_runtime

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Hypothesis examples per operation and generation mode: 24 operations of /api/v1, two modes.
EXAMPLES_PER_OPERATION = 6


@pytest.fixture(scope="module")
def api(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    runtime = build_runtime(load_settings(data_dir=folder / "data", database_url=module_database_url,
                                          _env_file=None))
    with runtime.services.db.session() as s:
        token = create_api_token(s, "schemathesis", "admin")
    yield create_app(runtime, start_workers=False), token
    runtime.services.db.dispose()


@pytest.fixture(scope="module")
def client(api) -> Iterator[TestClient]:
    with TestClient(api[0]) as c:
        c.headers["authorization"] = f"Bearer {api[1]}"
        yield c


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_described(api, mode):
    """Requests inside the description (positive) and outside it (negative), every operation."""
    app, token = api
    cases: list[str] = []
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/v1/")
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_described(case) -> None:
            cases.append(f"{case.method} {case.formatted_path}")
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        answers_as_described()
    assert len(cases) >= 100, f"only {len(cases)} cases"
    print(f"schemathesis {mode.value}: {len(cases)} cases, all as described")


def test_the_description_is_the_rest_api_with_bearer_auth(client):
    spec = client.get("/openapi.json").json()
    assert {p for p in spec["paths"] if not p.startswith("/api/v1/")} == {"/healthz", "/readyz"}
    scheme = spec["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1/"):
                assert {"401", "403", "422"} <= set(operation["responses"]), (method, path)
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)


@pytest.mark.parametrize(("path", "params"), [
    ("/api/v1/complaints/stats", {"until": "0.5"}),
    ("/api/v1/ratings/stats", {"since": "1700000000"}),
    ("/api/v1/applications/stats", {"since": "2026-11-01T00:00:00"}),
    ("/api/v1/applications", {"stage": "true"}),
    ("/api/v1/complaints", {"assigned_to": str(2**40)}),
])
def test_requests_outside_the_description_are_refused(client, path, params):
    answer = client.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert "error" in answer.json()


def test_an_empty_material_is_outside_the_description(client):
    answer = client.post("/api/v1/applications/SB-20261201-7KQ2/correction", json={"items": [{"material": ""}]})
    assert answer.status_code == 422 and "material" in answer.json()["error"], answer.text


def test_a_missing_token_answers_401_with_the_error_body(api):
    with TestClient(api[0]) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic eDp5"},
                        {"Authorization": "Bearer not-a-token"}):
            answer = client.get("/api/v1/outbox", headers=headers)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", headers
            assert set(answer.json()) == {"error"}
