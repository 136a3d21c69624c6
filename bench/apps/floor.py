"""(a) The floor: FastAPI on uvicorn, the body parsed with orjson, an answer of drgate's size, no lookup.

Whatever drgate costs above this app is the price of the check itself.
"""

from __future__ import annotations

import uuid

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

_SNAPSHOT = {"id": "0" * 32, "version": 1, "published_at": "2026-11-23T00:00:00.000+00:00"}


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/claims/check")
    async def check(request: Request) -> Response:
        claim = orjson.loads(await request.body())
        lines = [{"line_id": line["line_id"], "physician_code": line["physician_code"], "decision": "pass",
                  "reason": "ok", "basis": None, "until": None, "ban_until": None, "flags": [], "would_reject": None}
                 for line in claim["lines"]]
        answer = {"claim_id": claim["claim_id"], "decision": "pass", "decision_id": uuid.uuid4().hex,
                  "snapshot": _SNAPSHOT, "enforced": True, "lines": lines}
        return Response(orjson.dumps(answer), media_type="application/json")

    return app
