"""``POST /admin/v1/publish`` and ``/admin/v1/keys``: the administrator's routes.

Publishing runs an incremental sync now (``gateway.admin.workbench.Workbench.publish``), under the
sync lock: 409 while another sync holds it (cron's, or another officer's), 409 too when the shrink
guard refuses; the answer names the publication (snapshot id, version) and what it counted.  The
keys routes are `drgate api-key`'s: a key is shown once, in the answer that made it; a list shows
names, roles and dates, never a key or a digest.  Either reaches the gateways at the next sync.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cache.errors import LockLost, ShrinkRefused, SyncLocked
from gateway.admin.schemas import KeyIn
from gateway.admin.workbench import Workbench
from rules.errors import ApiKeyError
from rules.store import api_keys

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin (the agency's workbench)"])

_PUBLISHED = {"application/json": {"schema": {"type": "object", "properties": {
    "snapshot": {"type": "object", "properties": {"id": {"type": "string"}, "version": {"type": "integer"},
                                                  "generation": {"type": "integer"},
                                                  "published_at": {"type": "string"}}},
    "mode": {"type": "string"}, "physicians": {"type": "integer"}, "institutions": {"type": "integer"},
    "changed": {"type": "integer", "description": "physicians and institutions republished"},
    "watermark": {"type": "integer"}, "seconds": {"type": "number"}}}}}
_KEY = {"application/json": {"schema": {"type": "object", "properties": {
    "name": {"type": "string"}, "role": {"type": "string"}, "created_at": {"type": "string"},
    "revoked_at": {"type": ["string", "null"]}}}}}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _bench(request: Request) -> Workbench:
    bench: Workbench = request.app.state.admin
    return bench


@router.post("/publish", summary="Publish what changed: an incremental sync, now",
             responses={200: {"description": "Published (or nothing changed: the same snapshot, verified now)",
                              "content": _PUBLISHED},
                        409: {"description": "Another sync holds the lock, or the shrink guard refused; retry"},
                        503: {"description": "The sync lost its lock, or Redis or the store cannot be used"}})
async def publish(request: Request) -> Response:
    try:
        return _json(await run_in_threadpool(_bench(request).publish))
    except SyncLocked:
        return _json({"detail": "another sync is publishing now; retry in a few seconds"}, 409)
    except ShrinkRefused as exc:
        return _json({"detail": str(exc)}, 409)
    except LockLost as exc:
        return _json({"detail": str(exc)}, 503)


@router.get("/keys", summary="The API keys of the store (never a key)",
            responses={200: {"description": "Every key, revoked ones included", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"keys": {"type": "array", "items": _KEY[
                    "application/json"]["schema"]}}}}}}})
def list_keys(request: Request) -> Response:
    return _json({"keys": [k.as_dict() for k in api_keys.list_keys(_bench(request).store)]})


@router.post("/keys", status_code=201, summary="Make a key with a name and a role; the key is in this answer only",
             responses={201: {"description": "Made; it works from the next sync", "content": {"application/json": {
                 "schema": {"type": "object", "properties": {"key": {"type": "string"}, "name": {"type": "string"},
                                                             "role": {"type": "string"}}}}}},
                        409: {"description": "The name is taken (revoked keys keep theirs)"}})
def add_key(request: Request, body: KeyIn) -> Response:
    try:
        key = api_keys.add_key(_bench(request).store, body.name, body.role)
    except ApiKeyError as exc:
        return _json({"detail": str(exc)}, 409)
    return Response(orjson.dumps({"key": key, "name": body.name, "role": body.role}), status_code=201,
                    media_type="application/json", headers={"cache-control": "no-store"})


@router.post("/keys/{name}/revoke", summary="Revoke a key; it stops working at the next sync",
             responses={200: {"description": "Revoked", "content": _KEY}, 404: {"description": "No key of that name"},
                        409: {"description": "Revoked already"}})
def revoke_key(request: Request, name: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")]) -> Response:
    try:
        revoked = api_keys.revoke_key(_bench(request).store, name)
    except ApiKeyError as exc:
        return _json({"detail": str(exc)}, 404 if exc.missing else 409)
    return _json(revoked.as_dict())
