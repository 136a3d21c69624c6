"""The workbench's pages at ``/ui/``: log in and out, find a physician, their year, a decision, the
due list, the officers' forms and publish.

Reads come from the scoring store (the why) and from the snapshot the gateway answers with (the
decision a line gets); writes go through the import's validation (``gateway.ui.actions``).  Every
POST carries the session's form token; the key itself is only ever in the login form's body.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cache.snapshot_cache import UNREAD
from gateway.admin.workbench import Workbench
from gateway.api.schemas import CODE, DAY
from gateway.check.status import CHINA, explain
from gateway.errors import PageRefused, PublishRefused
from gateway.state import GatewayState
from gateway.ui import actions
from gateway.ui.access import PUBLISH, READ, WORKBENCH_ROLES, WRITE
from gateway.ui.forms import FORMS, form_record, item_choices
from gateway.ui.session import COOKIE, LOGIN_COOKIE, Sessions
from gateway.ui.timeline import draw
from gateway.ui.web import checked_form, key_digest, login_caller, page, redirect, root_of, viewer
from gateway.ui.year import physician_year
from rules.calendar import WorkingCalendar, china_calendar
from rules.store.directory import find_physicians
from rules.store.history import physician_history
from rules.store.report import evaluate_store
from rules.store.scans import Store

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ui", include_in_schema=False)


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _bench(request: Request) -> Workbench:
    bench: Workbench = request.app.state.admin  # the admin API's: store, profile, calendar, publish
    return bench


def _store(request: Request) -> Store:
    return _bench(request).store


def _today() -> date:
    return datetime.now(CHINA).date()


def _day(text: str | None) -> date:
    return date.fromisoformat(text) if text else _today()


def _back(target: object) -> str:
    """A page of the workbench to return to; anything else (another site) is the home page."""
    text = str(target or "")
    return text if text.startswith("/ui/") and not text.startswith("/ui//") and "\\" not in text else "/ui/"


# -- login ---------------------------------------------------------------------------------------


@router.get("")
async def root(request: Request) -> Response:
    return redirect(request, "/ui/", 308)


@router.get("/login")
async def login_form(request: Request) -> Response:
    token = Sessions.login_token()
    response = page(request, "login.html", viewer=None, token=token, message=None)
    sessions: Sessions = request.app.state.ui_sessions
    sessions.set_cookie(response, LOGIN_COOKIE, token, 600, root_of(request))
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    sessions: Sessions = request.app.state.ui_sessions
    if not Sessions.login_token_ok(request.cookies.get(LOGIN_COOKIE), str(form.get("csrf") or "")):
        return await _login_again(request, "登录表单已失效, 请重新输入。", 403)
    key = str(form.get("key") or "").strip()
    caller = login_caller(request, key)
    if caller is None:
        log.info("workbench: a login with an unknown key was refused")
        return await _login_again(request, "密钥无效或已撤销。", 401)
    if caller.role not in WORKBENCH_ROLES:
        log.info("workbench: %s of role %s may not use the workbench", caller.name, caller.role)
        return await _login_again(request, f"{caller.role} 角色的密钥不能使用工作台 (仅用于结算接口)。", 403)
    log.info("workbench: %s (%s) logged in", caller.name, caller.role)
    response = redirect(request, "/ui/")
    sessions.set_cookie(response, COOKIE, sessions.make(key_digest(key)), int(sessions.lifetime), root_of(request))
    sessions.drop_cookie(response, LOGIN_COOKIE, root_of(request))
    return response


async def _login_again(request: Request, message: str, status: int) -> Response:
    token = Sessions.login_token()
    response = page(request, "login.html", status, viewer=None, token=token, message=message)
    sessions: Sessions = request.app.state.ui_sessions
    sessions.set_cookie(response, LOGIN_COOKIE, token, 600, root_of(request))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    checked_form(request, READ, await request.form())
    sessions: Sessions = request.app.state.ui_sessions
    response = redirect(request, "/ui/login")
    sessions.drop_cookie(response, COOKIE, root_of(request))
    return response


# -- read pages ----------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    seen = viewer(request, READ)
    found = await run_in_threadpool(find_physicians, _store(request), q) if q.strip() else []
    return page(request, "home.html", viewer=seen, q=q, found=found)


@router.get("/physicians/{code}")
async def physician(
    request: Request, code: str,
    on: Annotated[str | None, Query(pattern=DAY)] = None,
    institution: Annotated[str | None, Query(max_length=30)] = None,
    recorded: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    seen = viewer(request, READ)
    state = _state(request)
    day = _day(on)
    view = await run_in_threadpool(physician_year, _store(request), state.profile,
                                   _calendar(state), code, day) if _code_ok(code) else None
    if view is None:
        return page(request, "refused.html", 404, viewer=seen, message=f"医保医师库中没有代码为 {code} 的医师。")
    chosen = (institution or "").strip() or (view.institutions[0] if view.institutions else None)
    if chosen is not None and not _code_ok(chosen):
        chosen = None
    line = await _line(state, code, day, chosen)
    history = await run_in_threadpool(physician_history, _store(request), code)
    return page(request, "physician.html", viewer=seen, view=view, drawing=draw(view, state.profile),
                line=line, history=history[::-1], institution=chosen, recorded=recorded if recorded in FORMS else None,
                profile=state.profile)


def _code_ok(code: str) -> bool:
    return re.fullmatch(CODE, code) is not None


def _calendar(state: GatewayState) -> WorkingCalendar:
    return state.calendar or china_calendar()


async def _line(state: GatewayState, code: str, day: date, institution: str | None) -> dict[str, Any] | None:
    """The decision a line of ``code`` at ``institution`` on ``day`` gets from the published snapshot."""
    if institution is None:
        return None
    records = await state.reader.get_many([code])
    record = records.get(code)
    snapshot = state.cache.snapshot
    if snapshot is None or record is UNREAD:
        return {"unavailable": True}
    answer = explain(code, record, snapshot, day, institution, state.policy, state.profile)
    return {"unavailable": False, **answer["line"], "snapshot": answer["snapshot"]}


@router.get("/decisions")
async def decisions(request: Request, claim_id: Annotated[str, Query(max_length=100)] = "",
                    decision_id: Annotated[str, Query(max_length=100)] = "") -> Response:
    seen = viewer(request, READ)
    if decision_id.strip():
        return redirect(request, f"/ui/decisions/{quote(decision_id.strip(), safe='')}")
    state = _state(request)
    found: list[dict[str, Any]] = []
    if claim_id.strip() and state.archive is not None:
        found = await run_in_threadpool(state.archive.by_claim, claim_id.strip(), 50)
    return page(request, "decisions.html", viewer=seen, claim_id=claim_id, found=found)


@router.get("/decisions/{decision_id}")
async def decision(request: Request, decision_id: str) -> Response:
    seen = viewer(request, READ)
    state = _state(request)
    found = await run_in_threadpool(state.archive.decision, decision_id) if state.archive is not None else None
    if found is None:
        return page(request, "refused.html", 404, viewer=seen,
                    message=f"存档中没有编号为 {decision_id} 的决定 (归档需要 drgate decisions archive)。")
    return page(request, "decision.html", viewer=seen, d=found)


@router.get("/due")
async def due(request: Request, year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Response:
    seen = viewer(request, READ)
    state = _state(request)
    chosen = year or _today().year
    rows = await run_in_threadpool(evaluate_store, _store(request), state.profile, chosen, None, state.calendar)
    items = [{**d, "physician_code": r["physician_code"]} for r in rows for d in r["due"]]
    items.sort(key=lambda d: (d.get("deadline") or "9999", d.get("since") or "", d["physician_code"]))
    return page(request, "due.html", viewer=seen, year=chosen, items=items, today=_today().isoformat())


# -- forms ---------------------------------------------------------------------------------------


@router.get("/record/{kind}")
async def record_form(request: Request, kind: str) -> Response:
    seen = viewer(request, WRITE)
    form = FORMS.get(kind)
    if form is None:
        return page(request, "refused.html", 404, viewer=seen, message=f"没有 {kind} 这种记录。")
    values = {f.name: request.query_params.get(f.name, "") for f in form.fields}
    return _form_page(request, seen, form, values, [], None)


def _form_page(request: Request, seen: Any, form: Any, values: dict[str, str], problems: list[Any],
               done: str | None, status: int = 200) -> Response:
    state = _state(request)
    by_field: dict[str, list[str]] = {}
    for p in problems:
        by_field.setdefault(p.field, []).append(p.message)
    other = [f"{p.field}: {p.message}" for p in problems if p.field not in form.field_names()]
    if any("is recorded already" in p.message for p in problems):
        other.append("该记录已存在: 如需更正, 请填写变更理由后再提交。")
    elif any("is not recorded" in p.message for p in problems):
        other.append("没有可更正的记录: 新建时请清空变更理由。")
    return page(request, "record.html", status, viewer=seen, form=form, values=values, by_field=by_field,
                other=other, done=done, items=item_choices(state.profile), forms=FORMS)


@router.post("/record/{kind}")
async def record(request: Request, kind: str) -> Response:
    data = await request.form()
    seen = checked_form(request, WRITE, data)
    form = FORMS.get(kind)
    if form is None:
        return page(request, "refused.html", 404, viewer=seen, message=f"没有 {kind} 这种记录。")
    row = form_record(form, data)
    change = str(data.get("change_reason") or "").strip()  # given: a correction of a stored record, and why
    reason = change or (row.get("reason") if kind == "revocation" else None)
    problems = await run_in_threadpool(partial(actions.record, correcting=bool(change)), _bench(request), row,
                                       f"key:{seen.name}", reason)
    values = {name: str(data.get(name) or "") for name in (*form.field_names(), "change_reason")}
    if problems:
        return _form_page(request, seen, form, values, problems, None, 422)
    log.info("workbench: key:%s recorded a %s", seen.name, kind)
    code = row.get("physician_code")
    if code:
        return redirect(request, f"/ui/physicians/{quote(code, safe='')}?recorded={kind}")
    return _form_page(request, seen, form, {}, [], kind)


@router.post("/publish")
async def publish(request: Request) -> Response:
    data = await request.form()
    seen = checked_form(request, PUBLISH, data)
    try:
        result = await run_in_threadpool(actions.publish, _bench(request))
    except PublishRefused as exc:
        return page(request, "published.html", 409, viewer=seen, result=None, message=str(exc),
                    back=_back(data.get("back")))
    log.info("workbench: key:%s published version %s", seen.name, result["snapshot"]["version"])
    return page(request, "published.html", viewer=seen, result=result, message=None, back=_back(data.get("back")))


def refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    response: Response = exc.response
    return response
