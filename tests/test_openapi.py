"""The OpenAPI document covers every route with its shapes; the docs pages load without a CDN."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_under_a_root_path_the_docs_pages_name_their_assets_and_document_under_it(settings: Settings,
                                                                                 page: str) -> None:
    """Behind a proxy serving drgate at /gw (uvicorn --root-path /gw), the browser knows only /gw/..."""
    with TestClient(create_app(settings), root_path="/gw") as client:
        html = client.get(f"/gw{page}").text
        urls = re.findall(r"""(?:href|src|spec-url|url)\s*[=:]\s*['"]([^'"]*)['"]""", html)
        assert "/gw/openapi.json" in urls and any(u.startswith("/gw/docs-assets/") for u in urls)
        assert [u for u in urls if u.startswith("/") and not u.startswith("/gw/")] == []
        for asset in (u for u in urls if u.startswith("/gw/docs-assets/")):
            assert client.get(asset).status_code == 200, asset


def test_every_admin_route_is_documented_with_its_roles_and_refusals(spec: dict) -> None:  # type: ignore[type-arg]
    admin = {path: ops for path, ops in spec["paths"].items() if path.startswith("/admin/v1/")}
    assert set(admin) == {"/admin/v1/records", "/admin/v1/records/{kind}", "/admin/v1/physicians/{code}/history",
                          "/admin/v1/publish", "/admin/v1/keys", "/admin/v1/keys/{name}/revoke"}
    for path, operations in admin.items():
        for method, operation in operations.items():
            assert operation["security"] and "Roles: " in operation["description"], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
    assert "Roles: admin." in admin["/admin/v1/publish"]["post"]["description"]
    assert "409" in admin["/admin/v1/publish"]["post"]["responses"]


def test_the_records_bodies_name_every_kind_of_the_import_contract(spec: dict) -> None:  # type: ignore[type-arg]
    from rules.store.rows import TABLES

    body = spec["components"]["schemas"]["RecordsIn"]["properties"]
    assert body["records"]["items"] == {"$ref": "#/components/schemas/Record"}
    kinds = {ref["$ref"].rsplit("/", 1)[1] for ref in spec["components"]["schemas"]["Record"]["oneOf"]}
    assert len(kinds) == len(TABLES)
    for name in kinds:
        assert spec["components"]["schemas"][name]["properties"]["kind"]["const"] in TABLES
    put = spec["paths"]["/admin/v1/records"]["put"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/RecordProblem"} in put["anyOf"]
