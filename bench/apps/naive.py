"""(b) The naive design: pydantic request and response models, one awaited redis-py GET per line.

Records live one string key each (``bench.setup`` copies them from drgate's snapshot); the line
decision is drgate's own, so the answers are the same and only the design differs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI

from bench.setup import naive_institutions_key, naive_key
from cache.codec import decode_institution, decode_physician
from gateway.api.schemas import CheckRequest, CheckResponse, service_day
from gateway.check.decision import decide_line
from rules.model import InstitutionRecord, iso
from rules.profiles import load_profile


def create_app() -> FastAPI:
    prefix = os.environ.get("DRGATE_REDIS_PREFIX", "drgate-bench")
    basis = dict(load_profile("quzhou-2020").reasons)
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
        raw = await client.hgetall(naive_institutions_key(prefix))
        state["redis"] = client
        state["institutions"] = {k.decode(): decode_institution(k.decode(), v) for k, v in raw.items()}
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/claims/check", response_model=CheckResponse)
    async def check(claim: CheckRequest) -> CheckResponse:
        client: aioredis.Redis = state["redis"]  # type: ignore[assignment]
        institutions: dict[str, InstitutionRecord] = state["institutions"]  # type: ignore[assignment]
        institution = institutions.get(claim.institution_code)
        exempt = claim.emergency or claim.rescue or claim.med_type == "13"
        lines = []
        for line in claim.lines:
            raw = await client.get(naive_key(prefix, line.physician_code))
            record = None if raw is None else decode_physician(line.physician_code, raw)
            on = service_day(line.service_date or claim.service_date)
            d = decide_line(record, institution, claim.institution_code, on,
                            exempt if line.emergency is None else line.emergency, basis)
            lines.append({"line_id": line.line_id, "physician_code": line.physician_code, "decision": d.decision,
                          "reason": d.reason, "basis": d.basis, "until": iso(d.until), "ban_until": iso(d.ban_until),
                          "flags": list(d.flags),
                          "would_reject": d.would_reject})
        decisions = {x["decision"] for x in lines}
        return CheckResponse.model_validate({
            "claim_id": claim.claim_id, "decision": "partial" if len(decisions) == 2 else decisions.pop(),
            "decision_id": uuid.uuid4().hex, "snapshot": {"id": None, "version": None, "published_at": None},
            "enforced": True, "lines": lines})

    return app
