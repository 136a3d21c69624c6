"""``GET /v1/decisions/{decision_id}`` and ``GET /v1/decisions``: decisions from the archive.

The help desk's and the auditor's question, months later: why was line 3 of claim X rejected?
Each answer comes from the store's archive (``drgate decisions archive`` fills it), whole: the
lines with the article of every rejection, the records that decided them as they were then, and
what became of them since (``since``: revoked on a day, changed, gone).  A decision not archived
yet (the archiver runs behind the gateway by its batch interval) answers 404.  Blocking SQL:
FastAPI runs these routes in its thread pool, off the claim check's event loop.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import OperationalError, ProgrammingError

from gateway.api.schemas import CODE, DAY
from gateway.check.status import CHINA
from rules.store.archive.reads import ArchiveReader

__all__ = ["router"]

router = APIRouter(tags=["decisions (archive)"])

_ID = r"^[0-9A-Za-z_.:-]{1,64}$"
_CURSOR = rf"^{DAY[1:-1]}/[0-9A-Za-z_.:-]{{1,64}}$"  # day/decision_id, as an answer gave it


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _reader(request: Request) -> ArchiveReader:
    reader: ArchiveReader = request.app.state.gateway.archive
    return reader


def _unavailable(exc: Exception) -> Response:
    return _json({"detail": f"the archive cannot be read now ({type(exc).__name__}); retry, or run "
                            "`drgate store init` on a new store"}, 503)


@router.get("/v1/decisions/{decision_id}", summary="One archived decision, whole",
            responses={404: {"description": "Not archived (yet)"}, 503: {"description": "The archive cannot be read"}})
def decision(request: Request, decision_id: Annotated[str, Path(pattern=_ID)]) -> Response:
    try:
        found = _reader(request).decision(decision_id)
    except (OperationalError, ProgrammingError) as exc:
        return _unavailable(exc)
    if found is None:
        return _json({"detail": f"decision {decision_id} is not archived (yet)"}, 404)
    return _json(found)


@router.get("/v1/decisions", summary="Archived decisions of a claim, or of a physician over received days (paged)",
            description="Give `claim_id`, or `physician` (with `from` and `to`, default the last 30 days). "
            "Without either, or with `from` after `to`, the page is empty.",
            responses={422: {"description": "A malformed date, code or cursor"},
                       503: {"description": "The archive cannot be read"}})
def search(
    request: Request,
    claim_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    physician: Annotated[str | None, Query(pattern=CODE, description="医保医师代码 as sent")] = None,
    start: Annotated[str | None, Query(alias="from", pattern=DAY, description="first received day")] = None,
    end: Annotated[str | None, Query(alias="to", pattern=DAY, description="last received day (inclusive)")] = None,
    cursor: Annotated[str | None, Query(pattern=_CURSOR, description="from the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    reader = _reader(request)
    try:
        if claim_id is not None:
            return _json({"decisions": reader.by_claim(claim_id, limit), "cursor": None})
        last = date.fromisoformat(end) if end else datetime.now(CHINA).date()
        first = date.fromisoformat(start) if start else last - timedelta(30)
        if physician is None or first > last:  # nothing asked for, or an empty range: an empty page
            return _json({"decisions": [], "cursor": None})
        page = reader.by_physician(physician, first, last, cursor, limit)
        return _json({"decisions": page.decisions, "cursor": page.cursor})
    except (OperationalError, ProgrammingError) as exc:
        return _unavailable(exc)
