"""(c) The SQL design: one query per claim against the scoring store on PostgreSQL.

The query reads the claim's physicians, their agreements, sanctions and credits, and the
institution's sanctions in one round trip; the line decision is drgate's own (terminations clip
agreements as the engine does), so only the design differs.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import Response

from gateway.api.schemas import service_day
from gateway.check.decision import decide_line
from rules.model import OPEN_END, Agreement, Credit, InstitutionRecord, PhysicianRecord, Sanction, iso
from rules.profiles import load_profile

POOL = 16

QUERY = """
SELECT 'p', code, NULL, NULL::date, NULL::date, NULL::date FROM physicians WHERE code = ANY(%(codes)s)
UNION ALL SELECT 'a', physician_code, institution_code, start, "end", NULL FROM agreements
  WHERE physician_code = ANY(%(codes)s)
UNION ALL SELECT 's', physician_code, action, start, "end", ban_until FROM sanctions
  WHERE physician_code = ANY(%(codes)s)
UNION ALL SELECT 'c', physician_code, level, effective_from, NULL, NULL FROM credits
  WHERE physician_code = ANY(%(codes)s)
UNION ALL SELECT 'i', institution_code, action, start, "end", NULL FROM institution_sanctions
  WHERE institution_code = %(institution)s
"""


def _day(value: date | None, default: int = 0) -> int:
    return default if value is None else value.toordinal()


def records(rows: list[tuple[Any, ...]], institution_code: str) -> tuple[dict[str, PhysicianRecord],
                                                                        InstitutionRecord]:
    known: set[str] = set()
    agreements: dict[str, list[Agreement]] = defaultdict(list)
    sanctions: dict[str, list[Sanction]] = defaultdict(list)
    credits: dict[str, list[Credit]] = defaultdict(list)
    inst: list[Sanction] = []
    for kind, code, what, start, end, ban in rows:
        if kind == "p":
            known.add(code)
        elif kind == "a":
            agreements[code].append(Agreement(what, _day(start), _day(end, OPEN_END)))
        elif kind == "s":
            sanctions[code].append(Sanction(what, _day(start), _day(end, OPEN_END), _day(ban)))
        elif kind == "c":
            credits[code].append(Credit(what, _day(start)))
        else:
            inst.append(Sanction(what, _day(start), _day(end, OPEN_END)))
    out: dict[str, PhysicianRecord] = {}
    for code in known:
        mine = sanctions.get(code, [])
        agr = agreements.get(code, [])
        for s in mine:  # a termination ends the agreements that started before it (衢州 第二十一条)
            if s.action == "terminate":
                agr = [Agreement(a.institution, a.start, min(a.end, s.start)) if a.start <= s.start else a
                       for a in agr]
        out[code] = PhysicianRecord(code, tuple(agr), tuple(mine), tuple(sorted(credits.get(code, []),
                                                                                 key=lambda c: c.start)))
    return out, InstitutionRecord(institution_code, tuple(inst))


def create_app() -> FastAPI:
    url = os.environ["BENCH_POSTGRES_URL"]
    basis = dict(load_profile("quzhou-2020").reasons)
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for _n in range(POOL):
            pool.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0))
        yield
        while not pool.empty():
            await pool.get_nowait().close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/claims/check")
    async def check(request: Request) -> Response:
        claim = orjson.loads(await request.body())
        codes = [line["physician_code"] for line in claim["lines"]]
        conn = await pool.get()
        try:
            cur = await conn.execute(QUERY, {"codes": codes, "institution": claim["institution_code"]})
            rows = await cur.fetchall()
        finally:
            pool.put_nowait(conn)
        physicians, institution = records(rows, claim["institution_code"])
        claim_day = service_day(claim["service_date"])
        exempt = bool(claim.get("emergency") or claim.get("rescue") or claim.get("med_type") == "13")
        lines = []
        for line in claim["lines"]:
            code = line["physician_code"]
            on = service_day(line["service_date"]) if line.get("service_date") else claim_day
            d = decide_line(physicians.get(code), institution, claim["institution_code"], on, exempt, basis)
            lines.append({"line_id": line["line_id"], "physician_code": code, "decision": d.decision,
                          "reason": d.reason, "basis": d.basis, "until": iso(d.until), "ban_until": iso(d.ban_until),
                          "flags": list(d.flags),
                          "would_reject": d.would_reject})
        decisions = {x["decision"] for x in lines}
        answer = {"claim_id": claim["claim_id"], "decision": "partial" if len(decisions) == 2 else decisions.pop(),
                  "decision_id": uuid.uuid4().hex, "snapshot": {"id": None, "version": None, "published_at": None},
                  "enforced": True, "lines": lines}
        return Response(orjson.dumps(answer), media_type="application/json")

    return app
