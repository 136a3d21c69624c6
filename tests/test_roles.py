"""Every route of the app, with every role and with no key: 401 without a key, 403 with a key of the
wrong role, answered with one of the right role.  The routes are taken from the app itself
(FastAPI's routes and the paths served ahead of it), so a new route cannot escape the table."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import redis
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Route

from cache.sync import Syncer
from gateway.api.roles import ANY, GRANTS, PUBLISH, RULES, allowed, need_of
from gateway.api.v1 import CHECK_PATH
from gateway.app import create_app
from gateway.settings import Settings
from rules.store.api_keys import add_key, digest_of
from rules.store.scans import Store

ROLES = tuple(GRANTS)
#: What each path parameter is filled with: a value the route's own validation accepts.
PARAMETERS = {"code": "D330802000001", "decision_id": "d-1", "name": "nobody", "kind": "violation"}
OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}
CONFIGURED = "k-configured-settlement"


def routes(app: object) -> list[tuple[str, str]]:
    """(method, concrete path) of every route: FastAPI's, and the check and /nhsa/ served ahead of it."""
    found = {("POST", CHECK_PATH)} | {("POST", path) for path in app.ahead}  # type: ignore[attr-defined]
    for method, template in _walk(app.routes, ""):  # type: ignore[attr-defined]
        found.add((method, re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMETERS.get(m.group(1), "x"), template)))
    return sorted(found)


def _walk(routes_: list[object], prefix: str) -> Iterator[tuple[str, str]]:
    """Every (method, path template), into included routers too (FastAPI keeps them as their own routes)."""
    for route in routes_:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes, prefix + getattr(route.include_context, "prefix", ""))  # type: ignore[attr-defined]
        elif isinstance(route, APIRoute | Route) and route.methods:
            yield from ((method, prefix + route.path) for method in route.methods if method != "HEAD")


@pytest.fixture(name="client")
def fix_client(settings: Settings, syncer: Syncer, store: Store, redis: redis.Redis) -> Iterator[TestClient]:
    syncer.full(allow_shrink=True)
    app = create_app(settings.model_copy(update={"store_url": SecretStr(store.url),
                                                 "api_keys": (digest_of(CONFIGURED),)}))
    with TestClient(app) as client:
        client.keys = {role: add_key(store, f"test-{role}", role) for role in ROLES}  # type: ignore[attr-defined]
        syncer.incremental()
        deadline = time.monotonic() + 5
        while app.state.keys.published_id is None or not _known(client):
            assert time.monotonic() < deadline, "the published keys did not reach the gateway"
            time.sleep(0.05)
        yield client


def _known(client: TestClient) -> bool:
    return client.get("/v1/physicians/D330802000001",
                      headers={"X-API-Key": client.keys["helpdesk"]}).status_code == 200  # type: ignore[attr-defined]


def test_every_route_is_open_or_named_in_the_table(client: TestClient) -> None:
    for method, path in routes(client.app):
        need = need_of(method, path)
        # /ui/: the workbench's pages, behind its own sessions and the same roles (tests/test_ui.py)
        assert (need is None) == (path in OPEN or path.startswith(("/docs-assets", "/ui"))), (method, path)
        assert need != ANY, f"{method} {path} is protected but named by no rule of gateway.api.roles.RULES"


def test_every_route_answers_each_role_as_the_table_says(client: TestClient) -> None:
    keys: dict[str, str] = {**client.keys, "configured": CONFIGURED}  # type: ignore[attr-defined]
    checked = 0
    for method, path in routes(client.app):
        need = need_of(method, path)
        if need is None:
            continue
        unkeyed = client.request(method, path, json={})
        assert unkeyed.status_code == 401, (method, path)
        for role, key in keys.items():
            granted = allowed("settlement" if role == "configured" else role, need)
            if granted and need == PUBLISH:  # it runs a sync: tests/test_admin_api.py
                continue
            status = client.request(method, path, json={}, headers={"X-API-Key": key}).status_code
            assert (status not in (401, 403)) if granted else status == 403, (method, path, role, status)
            checked += 1
    assert checked >= 5 * 15  # 15 routes today, each with 5 keys


def test_a_settlement_key_can_write_nothing(client: TestClient) -> None:
    key = client.keys["settlement"]  # type: ignore[attr-defined]
    for method, path in routes(client.app):
        need = need_of(method, path)
        if method in ("POST", "PUT", "PATCH", "DELETE") and need not in (None, "check"):
            assert client.request(method, path, json={}, headers={"X-API-Key": key}).status_code == 403, path


@pytest.mark.parametrize("path", ["/nhsa/2204", "/nhsa/3101"])
def test_a_wrong_role_on_the_national_platform_gets_its_envelope(client: TestClient, path: str) -> None:
    reply = client.post(path, json={"infno": path[-4:], "input": {}},
                        headers={"X-API-Key": client.keys["helpdesk"]})  # type: ignore[attr-defined]
    assert reply.status_code == 403 and reply.json()["infcode"] == -1 and "helpdesk" in reply.json()["err_msg"]


def test_every_rule_names_a_route_of_the_app(client: TestClient) -> None:
    served = routes(client.app)
    for rule in RULES:
        assert any(m == rule.method and (p == rule.path or (rule.path.endswith("/") and p.startswith(rule.path)))
                   for m, p in served), rule


def test_the_spec_names_the_roles_of_each_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    check = spec["paths"]["/v1/claims/check"]["post"]
    assert "403" in check["responses"] and "Roles: settlement." in check["description"]
    assert "Roles: helpdesk, officer, admin." in spec["paths"]["/v1/physicians/{code}"]["get"]["description"]


def test_a_key_in_the_url_is_not_a_key(client: TestClient) -> None:
    key = client.keys["helpdesk"]  # type: ignore[attr-defined]
    assert client.get(f"/v1/physicians/D330802000001?api_key={key}&key={key}").status_code == 401


def test_the_require_dependency_answers_401_403_or_the_caller() -> None:
    from fastapi import Depends, FastAPI

    from gateway.api.auth import CALLER, ROLE, Caller, require

    app = FastAPI()

    @app.get("/page")
    def page(caller: Caller = Depends(require("write"))) -> dict[str, str]:  # noqa: B008
        return {"name": caller.name}

    def as_role(role: str | None) -> int:
        async def with_session(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
            if role is not None:
                scope[CALLER], scope[ROLE] = f"key:{role}-1", role
            await app(scope, receive, send)  # type: ignore[arg-type]

        return TestClient(with_session).get("/page").status_code  # type: ignore[arg-type]

    assert (as_role(None), as_role("helpdesk"), as_role("officer")) == (401, 403, 200)
