"""``/admin/v1/records`` and ``/admin/v1/physicians/{code}/history``: record, correct, list, explain.

``POST`` creates records (each must be new), ``PUT`` corrects them (each must be stored; a
``reason`` is required); both take one record or a batch, validate it as `drgate store import`
validates a file (``rules.store.importer.import_records``) and write it all or nothing, keeping
every version replaced with who (``key:<name>``), when and why (``rules.store.history``).  A
refusal is 422 naming each bad record as the import names a bad line: ``line N: field: why``.
What is written reaches the gateways at the next publish (``POST /admin/v1/publish``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from gateway.admin.schemas import RecordsIn, problem_detail
from gateway.admin.workbench import Workbench
from gateway.api.auth import CALLER
from gateway.api.schemas import CODE
from rules.errors import ImportFileError, LineProblem
from rules.store.history import physician_history
from rules.store.importer import REQUEST, import_records
from rules.store.rows import TABLES
from rules.store.scans import KEYS
from rules.store.schema import metadata, physicians

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin (the agency's workbench)"])

_KIND = "^(" + "|".join(TABLES) + ")$"
_PROBLEM = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecordProblem"}}}}
_WRITTEN = {"application/json": {"schema": {"type": "object", "properties": {
    "written": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "records by kind"},
    "records": {"type": "integer"}}}}}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _bench(request: Request) -> Workbench:
    bench: Workbench = request.app.state.admin
    return bench


def _write(request: Request, body: RecordsIn, expect: Literal["new", "stored"], status: int) -> Response:
    bench = _bench(request)
    actor = request.scope.get(CALLER) or "key:(none)"  # writing always needs a key: the guard set it
    try:
        report = import_records(bench.store, bench.profile, body.items(), actor=actor, reason=body.reason,
                                expect=expect, calendar=bench.calendar)
    except ImportFileError as exc:
        return _json({"detail": problem_detail(exc.problems)}, 422)
    except IntegrityError:  # another request wrote the same record meanwhile
        return _json({"detail": "a record of this request was written by another request meanwhile; retry"}, 409)
    return _json({"written": dict(report.imported), "records": report.total}, status)


@router.post("/records", status_code=201, summary="Record new records (one, or a batch: all or nothing)",
             description="Each record is an object of the import contract (docs/import-format.md) and must be "
             "new: a record whose natural key is stored already is refused (correct it with PUT).",
             responses={201: {"description": "Written", "content": _WRITTEN},
                        422: {"description": "Bad records, each named `line N: field: why`", **_PROBLEM}})
def create_records(request: Request, body: RecordsIn) -> Response:
    return _write(request, body, "new", 201)


@router.put("/records", summary="Correct stored records (one, or a batch: all or nothing), saying why",
            description="Each record replaces the stored one with its natural key (`id`, or the kind's key "
            "fields); the version replaced is kept in the history with the key's name, the time and `reason`.",
            responses={200: {"description": "Written", "content": _WRITTEN},
                       422: {"description": "Bad records, each named `line N: field: why`", **_PROBLEM}})
def correct_records(request: Request, body: RecordsIn) -> Response:
    if body.reason is None:
        problem = LineProblem(REQUEST, 0, "reason", "is required: say why the records are corrected")
        return _json({"detail": problem_detail([problem])}, 422)
    return _write(request, body, "stored", 200)


@router.get("/records/{kind}", summary="The current records of a kind (paged)",
            description="`physician` and `institution` filter the kinds that carry `physician_code` or "
            "`institution_code` (a physician's or an institution's own record by its `code`); on another "
            "kind they answer 422.", responses={422: {"description": "A malformed filter, or one the kind lacks"}})
def list_records(
    request: Request,
    kind: Annotated[str, Path(pattern=_KIND, description="a record kind of the import contract")],
    physician: Annotated[str | None, Query(pattern=CODE, description="医保医师代码")] = None,
    institution: Annotated[str | None, Query(pattern=CODE, description="定点医疗机构代码")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    table = metadata.tables[TABLES[kind]]
    query = sa.select(table)
    for code, column, own in ((physician, "physician_code", "physician"), (institution, "institution_code",
                                                                           "institution")):
        if code is None:
            continue
        if column in table.c:
            query = query.where(table.c[column] == code)
        elif kind == own:
            query = query.where(table.c.code == code)
        else:
            return _json({"detail": f"a {kind} carries no {column}: list it without {own}="}, 422)
    query = query.order_by(*(table.c[k] for k in KEYS[table.name])).limit(limit + 1).offset(offset)
    with _bench(request).store.engine.connect() as conn:
        rows = [{"kind": kind, **{str(k): v for k, v in r._mapping.items()}} for r in conn.execute(query)]
    more = len(rows) > limit
    return _json({"kind": kind, "records": rows[:limit], "next_offset": offset + limit if more else None})


@router.get("/physicians/{code}/history", summary="Every version of every record of a physician, oldest first",
            description="Each version with `op` (create, correct, revoke; `before`: as stored before history "
            "was kept), `actor` (`key:<name>`, or `import:<file>:<line>`), `at` and `reason`. A revocation "
            "of one of the physician's violations or sanctions is in it too.",
            responses={404: {"description": "Not a physician of the store, and no history"}})
def history(request: Request, code: Annotated[str, Path(pattern=CODE, description="医保医师代码")]) -> Response:
    store = _bench(request).store
    found = physician_history(store, code)
    if not found:
        with store.engine.connect() as conn:
            known = conn.execute(sa.select(physicians.c.code).where(physicians.c.code == code)).first()
        if known is None:
            return _json({"detail": f"{code} is not a physician of the scoring store"}, 404)
    return _json({"physician": code, "history": found})
