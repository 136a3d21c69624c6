"""The OpenAPI document covers every route with its shapes; the docs pages load without a CDN."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gateway.api.auth import new_key
from gateway.app import create_app
from gateway.settings import Settings

KEY, DIGEST = new_key()
NHSA = ["/nhsa/2204", "/nhsa/2301", "/nhsa/3101", "/nhsa/3102", "/nhsa/3103"]


@pytest.fixture(name="client")
def fix_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_keys": (DIGEST,)}))) as client:
        yield client


@pytest.fixture(name="spec")
def fix_spec(client: TestClient) -> dict[str, object]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", NHSA)
def test_every_nhsa_route_has_request_and_answer_schemas_and_examples(spec: dict, path: str) -> None:  # type: ignore[type-arg]
    operation = spec["paths"][path]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": f"#/components/schemas/Nhsa{path[-4:]}Request"}
    assert body["examples"]
    if path[-4:] != "3103":
        assert {"pass", "reject", "exempt", "refusal"} <= set(body["examples"])
    for status in ("200", "401", "413"):
        assert operation["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/NhsaAnswer"}, status
    assert "422" not in operation["responses"]  # the platform's way: infcode -1 in a 200
    assert operation["security"]


def test_the_answer_schema_has_the_platforms_fields_only(spec: dict) -> None:  # type: ignore[type-arg]
    answer = spec["components"]["schemas"]["NhsaAnswer"]
    assert set(answer["properties"]) == {"infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"}
    assert answer["properties"]["err_msg"]["maxLength"] == 200


def test_v1_error_answers_have_their_bodies(spec: dict) -> None:  # type: ignore[type-arg]
    responses = spec["paths"]["/v1/claims/check"]["post"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationProblem")
    assert responses["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
    assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_their_assets_from_drgate(client: TestClient, page: str) -> None:
    html = client.get(page).text
    assert "cdn" not in html.lower() and "/docs-assets/" in html
    for asset in [part.split('"')[0] for part in html.split('/docs-assets/')[1:]]:
        reply = client.get(f"/docs-assets/{asset}")
        assert reply.status_code == 200 and len(reply.content) > 100, asset
