"""The OpenAPI document: every route's request and answer shapes, the API-key schemes, the error bodies.

FastAPI documents what it can see; the claim check and the ``/nhsa/`` transactions read their
bodies themselves (fast paths), so their schemas are added here: ``CheckRequest`` for the check,
``gateway.formats.nhsa.openapi`` for the platform's envelopes.  Every error answer is documented with its
body: ``Problem`` (``{"detail": "…"}``), ``ValidationProblem`` (the 422's list naming each field),
and on ``/nhsa/`` the platform's envelope (``NhsaAnswer``), 401 included.  The check's description
is the decision table: every reason of the registry (``gateway.check.reasons``) with the article
the configured profile answers for it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.admin.schemas import record_components
from gateway.api.roles import GRANTS, need_of
from gateway.api.schemas import CheckRequest
from gateway.api.v1 import CHECK_PATH
from gateway.check.reasons import REASONS
from gateway.formats.nhsa import openapi as nhsa
from rules.profiles import Profile

__all__ = ["build_openapi"]

_PROBLEM = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
_LOC = {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}
_VALIDATION = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {
    "type": "object", "required": ["type", "loc", "msg"],
    "properties": {"type": {"type": "string"}, "loc": _LOC, "msg": {"type": "string"}}}}}}


def _body(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def build_openapi(app: FastAPI, *, api_keys: bool, profile: Profile) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    check = schema.get("paths", {}).get(CHECK_PATH, {}).get("post")
    if check is not None:
        check["description"] = decision_table(profile)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    defs = CheckRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(defs.pop("$defs", {}))
    components["CheckRequest"] = defs
    components.update(nhsa.components())
    components.update(record_components())
    components["RecordsIn"]["properties"]["record"] = {"$ref": "#/components/schemas/Record"}
    components["RecordsIn"]["properties"]["records"] = {"type": "array", "maxItems": 5000,
                                                        "items": {"$ref": "#/components/schemas/Record"}}
    components["Problem"] = _PROBLEM
    components["ValidationProblem"] = _VALIDATION
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if status in ("404", "409", "413", "503") and "content" not in answer:
                    answer["content"] = _body("Problem")
                elif status == "422" and "RecordProblem" in str(answer.get("content")):
                    answer["content"] = {"application/json": {"schema": {"anyOf": [
                        {"$ref": "#/components/schemas/RecordProblem"},
                        {"$ref": "#/components/schemas/ValidationProblem"}]}}}  # the records, or the body's shape
                elif status == "422" and not path.startswith("/nhsa/"):
                    answer["content"] = _body("ValidationProblem")
            if path.startswith("/nhsa/"):
                operation["responses"].pop("422", None)  # the platform's way: infcode -1 in a 200, never a 422
    if api_keys:
        _document_keys(schema)
    return schema


def decision_table(profile: Profile) -> str:
    """The check's reasons, in the order they are checked, with the articles ``profile`` answers."""
    rows = [f"| `{r.code}` | {r.decision_text} | {_basis(profile, r.article_key)} | {r.zh}: {r.en} |"
            for r in REASONS]
    return "\n".join([
        "Each line's `reason` is the first that applies, in this order (docs/decision.md); `basis` is the "
        f"article of the configured profile, {profile.name} ({profile.city}).", "",
        "| reason | decision | basis | meaning |", "|---|---|---|---|", *rows])


def _basis(profile: Profile, article_key: str | None) -> str:
    return (profile.basis_for(article_key) or "") if article_key is not None else ""


def _document_keys(schema: dict[str, Any]) -> None:
    """Declare the API-key schemes, and the 401 with its body, on every operation ApiKeyGuard protects."""
    schema["components"]["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }
    for path, operations in schema.get("paths", {}).items():
        body = _body(nhsa.ANSWER) if path.startswith("/nhsa/") else _body("Problem")
        for method, operation in operations.items():
            need = need_of(method.upper(), path)
            if need is None:
                continue
            roles = ", ".join(role for role, grants in GRANTS.items() if need in grants)
            operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
            operation["description"] = (operation.get("description", "") + f"\n\nRoles: {roles}.").strip()
            responses = operation.setdefault("responses", {})
            responses["401"] = {"description": "Missing or unknown API key", "content": body}
            responses["403"] = {"description": f"The key's role may not call this (roles: {roles})", "content": body}
