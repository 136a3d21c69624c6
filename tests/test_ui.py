"""The workbench at /ui/ through its HTTP answers: sessions, roles, forms' tokens, escaping, the
physician's year, decisions, the due list, recording and publishing (the browser's view is in
tests/test_ui_browser.py)."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.decisionlog.archiver import Archiver
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.api_keys import add_key, revoke_key
from rules.store.archive.writes import Archive
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.rows import PHYSICIAN, SITE_A, appeal, notice, violation, workbench_rows

Write = Callable[[list[Any]], Path]

BASE = workbench_rows()


ROLES = ("settlement", "helpdesk", "officer", "admin")


@pytest.fixture(name="ui")
def fix_ui(request: pytest.FixtureRequest, sqlite_store: Store, write_jsonl: Write, redis: redis.Redis, keys: Keys,
           settings: Settings, profile: Profile) -> Iterator[TestClient]:
    """A gateway over a published store of 30 physicians with an agreement at SITE_A, and a key of
    each role (``client.keys``) published with it."""
    import_files(sqlite_store, profile, [write_jsonl(BASE)])
    made = {role: add_key(sqlite_store, f"{role}-1", role) for role in ROLES}
    Syncer(redis, keys, sqlite_store, profile, grace_seconds=2).full()
    changes = dict(getattr(request, "param", {}))
    root = changes.pop("root_path", "")  # served under a prefix, as uvicorn --root-path behind a proxy
    app = create_app(settings.model_copy(update=changes))
    with TestClient(app, base_url="https://testserver" if changes.get("ui_secure_cookie") else "http://testserver",
                    root_path=root) as client:
        client.keys = made  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while app.state.keys.find(made["admin"].encode()) is None:
            assert time.monotonic() < deadline, "the published keys did not reach the gateway"
            time.sleep(0.05)
        yield client


def login(client: TestClient, role: str, root: str = "") -> Any:
    form = client.get(f"{root}/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    key = client.keys[role]  # type: ignore[attr-defined]
    return client.post(f"{root}/ui/login", data={"key": key, "csrf": token.group(1)}, follow_redirects=False)


def token_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_login_sets_an_httponly_strict_session_cookie_scoped_to_ui(ui: TestClient) -> None:
    answer = login(ui, "helpdesk")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("drgate_ui="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui/" in cookie
    assert "Secure" not in cookie
    key: str = ui.keys["helpdesk"]  # type: ignore[attr-defined]
    carried = base64.urlsafe_b64decode(cookie.split("=", 1)[1].split(".")[0] + "==").decode()
    assert key not in cookie and key not in carried and hashlib.sha256(key.encode()).hexdigest() in carried
    home = ui.get("/ui/")
    assert home.status_code == 200 and "helpdesk-1" in home.text


@pytest.mark.parametrize("ui", [{"ui_secure_cookie": True}], indirect=True)
def test_the_secure_flag_is_set_when_configured(ui: TestClient) -> None:
    answer = login(ui, "helpdesk")
    assert any(c.startswith("drgate_ui=") and "Secure" in c for c in answer.headers.get_list("set-cookie"))


def test_a_wrong_key_is_refused_and_gets_no_session(ui: TestClient) -> None:
    form = ui.get("/ui/login")
    answer = ui.post("/ui/login", data={"key": "not-a-key", "csrf": token_of(form.text)}, follow_redirects=False)
    assert answer.status_code == 401 and "密钥无效" in answer.text
    assert not any(c.startswith("drgate_ui=") for c in answer.headers.get_list("set-cookie"))


def test_a_settlement_key_gets_nothing_of_the_workbench(ui: TestClient) -> None:
    answer = login(ui, "settlement")
    assert answer.status_code == 403
    assert not any(c.startswith("drgate_ui=") for c in answer.headers.get_list("set-cookie"))
    assert ui.get("/ui/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", ["/ui/", f"/ui/physicians/{PHYSICIAN}", "/ui/due", "/ui/decisions",
                                  "/ui/decisions/x", "/ui/record/violation"])
def test_every_page_sends_a_visitor_without_a_session_to_the_login(ui: TestClient, path: str) -> None:
    answer = ui.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"


def test_a_forged_or_foreign_session_cookie_is_no_session(ui: TestClient) -> None:
    login(ui, "admin")
    value = ui.cookies.get("drgate_ui")
    assert value
    body, mac = value.split(".")
    for forged in (f"{body}x.{mac}", f"{body}.{mac[:-2]}", "garbage", f"{body}.{mac}.{mac}"):
        ui.cookies.clear()
        ui.cookies.set("drgate_ui", forged)
        assert ui.get("/ui/", follow_redirects=False).status_code == 303, forged
    ui.cookies.clear()
    ui.cookies.set("drgate_ui", value)
    assert ui.get("/ui/", follow_redirects=False).status_code == 200


def test_a_session_ends_when_its_key_is_revoked_and_published(ui: TestClient, sqlite_store: Store,
                                                             redis: redis.Redis, keys: Keys, profile: Profile) -> None:
    login(ui, "officer")
    assert ui.get("/ui/").status_code == 200
    revoke_key(sqlite_store, "officer-1")
    assert ui.get("/ui/").status_code == 200  # until the next sync, like the key on the API
    Syncer(redis, keys, sqlite_store, profile, grace_seconds=2).incremental()
    deadline = time.monotonic() + 5
    while ui.get("/ui/", follow_redirects=False).status_code != 303:
        assert time.monotonic() < deadline, "the revoked key's session outlived the sync"
        time.sleep(0.05)


@pytest.mark.parametrize(("role", "reads", "writes", "publishes"), [
    ("helpdesk", 200, 403, 403),
    ("officer", 200, 200, 403),
    ("admin", 200, 200, 200),
])
def test_each_role_sees_only_what_it_may(ui: TestClient, role: str, reads: int, writes: int, publishes: int) -> None:
    login(ui, role)
    for path in ("/ui/", f"/ui/physicians/{PHYSICIAN}", "/ui/due", "/ui/decisions"):
        assert ui.get(path).status_code == reads, path
    assert ui.get("/ui/record/violation").status_code == writes
    token = token_of(ui.get("/ui/").text)
    assert ui.post("/ui/publish", data={"csrf": token}).status_code == publishes
    page = ui.get(f"/ui/physicians/{PHYSICIAN}").text
    assert ('href="/ui/record/violation' in page) == (writes == 200)


def test_a_post_without_the_sessions_form_token_is_refused(ui: TestClient, sqlite_store: Store) -> None:
    login(ui, "officer")
    row = {"id": "V-1", "physician_code": PHYSICIAN, "institution_code": SITE_A, "item": "19.1", "case_id": "C1",
           "occurred_on": "2026-03-01", "scored_on": "2026-03-02", "basis_type": "audit", "basis_no": "稽核1"}
    assert ui.post("/ui/record/violation", data=row).status_code == 403
    assert ui.post("/ui/record/violation", data={**row, "csrf": "forged"}).status_code == 403
    assert list(sqlite_store.physician_facts([PHYSICIAN]))[0].violations == ()


def test_the_login_form_needs_its_double_submitted_token(ui: TestClient) -> None:
    answer = ui.post("/ui/login", data={"key": ui.keys["admin"], "csrf": "guess"}, follow_redirects=False)
    assert answer.status_code == 403
    assert not any(c.startswith("drgate_ui=") for c in answer.headers.get_list("set-cookie"))


def test_a_recorded_violation_counts_and_a_bad_one_shows_the_imports_messages(ui: TestClient) -> None:
    login(ui, "officer")
    token = token_of(ui.get("/ui/record/violation").text)
    row = {"id": "V-1", "physician_code": PHYSICIAN, "institution_code": SITE_A, "item": "99.9", "case_id": "C1",
           "occurred_on": "2026-03-01", "scored_on": "2026-03-02", "basis_type": "audit", "basis_no": "稽核1"}
    bad = ui.post("/ui/record/violation", data={**row, "csrf": token})
    assert bad.status_code == 422
    assert "&#39;99.9&#39; is not an item of the quzhou-2020 catalog" in bad.text
    assert 'value="99.9"' not in bad.text or 'data-field="item"' in bad.text
    missing = ui.post("/ui/record/violation", data={**row, "item": "19.1", "basis_no": "", "csrf": token})
    assert missing.status_code == 422 and 'data-field="basis_no"' in missing.text
    good = ui.post("/ui/record/violation", data={**row, "item": "18.1", "csrf": token}, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == f"/ui/physicians/{PHYSICIAN}?recorded=violation"
    page = ui.get(f"/ui/physicians/{PHYSICIAN}?on=2026-03-10")
    assert 'id="points">6<' in page.text and "V-1" in page.text and "稽核1" in page.text


def test_publishing_changes_the_lines_decision(ui: TestClient) -> None:
    login(ui, "admin")
    before = ui.get(f"/ui/physicians/{PHYSICIAN}?on=2026-03-10&institution={SITE_A}")
    assert '<code id="line-reason">ok</code>' in before.text
    token = token_of(before.text)
    for n, item in enumerate(("17.1",)):  # 12 points: terminated (衢州 第二十一条)
        row = {"id": f"V-{n}", "physician_code": PHYSICIAN, "institution_code": SITE_A, "item": item,
               "case_id": "C1", "occurred_on": "2026-03-01", "scored_on": "2026-03-02", "basis_type": "audit",
               "basis_no": "稽核1", "csrf": token}
        assert ui.post("/ui/record/violation", data=row, follow_redirects=False).status_code == 303
    unpublished = ui.get(f"/ui/physicians/{PHYSICIAN}?on=2026-03-10&institution={SITE_A}")
    assert '<code id="line-reason">ok</code>' in unpublished.text  # recorded, not published yet
    published = ui.post("/ui/publish", data={"csrf": token, "back": f"/ui/physicians/{PHYSICIAN}"})
    assert published.status_code == 200 and 'id="published"' in published.text
    for _ in range(100):
        after = ui.get(f"/ui/physicians/{PHYSICIAN}?on=2026-03-10&institution={SITE_A}")
        if '<code id="line-reason">terminated</code>' in after.text:
            break
        time.sleep(0.05)
    assert '<code id="line-reason">terminated</code>' in after.text


def test_pages_escape_what_the_store_holds(ui: TestClient, sqlite_store: Store, write_jsonl: Write,
                                           profile: Profile) -> None:
    markup = "<script>alert(1)</script>"
    import_files(sqlite_store, profile, [write_jsonl([{"kind": "physician", "code": "D9", "name": markup},
                                                     violation("V-x", "19.1", "2026-03-02", code="D9")])])
    login(ui, "helpdesk")
    for path in ("/ui/?q=D9", "/ui/physicians/D9?on=2026-03-10", "/ui/?q=%3Cscript%3E"):
        text = ui.get(path).text
        assert "<script>" not in text, path
        assert "&lt;script&gt;" in text, path


def test_every_answer_forbids_scripts_framing_and_caching(ui: TestClient) -> None:
    for answer in (ui.get("/ui/login"), ui.get("/ui/", follow_redirects=False)):
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"


def test_the_key_is_never_logged(ui: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        login(ui, "officer")
        ui.get("/ui/")
        form = ui.get("/ui/login")
        ui.post("/ui/login", data={"key": "wrong-secret-key", "csrf": token_of(form.text)})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "key:officer-1" in text
    assert ui.keys["officer"] not in text and "wrong-secret-key" not in text  # type: ignore[attr-defined]


def test_the_physicians_year_shows_points_bands_sanctions_notices_and_appeals(
        ui: TestClient, sqlite_store: Store, write_jsonl: Write, profile: Profile) -> None:
    rows = [violation("V-1", "18.1", "2026-03-02"), violation("V-2", "19.1", "2026-04-01"),
            violation("V-3", "20.1", "2026-05-06"),  # 9 points: suspended a month from 2026-05-06
            notice(f"violation:V-1@{PHYSICIAN}", "2026-03-03"), appeal("A-1", "V-2", "2026-04-02")]
    import_files(sqlite_store, profile, [write_jsonl(rows)])
    login(ui, "helpdesk")
    text = ui.get(f"/ui/physicians/{PHYSICIAN}?on=2026-05-10").text
    assert 'id="points">9<' in text
    assert "暂停协议" in text and "约谈" in text and "衢州 第二十一条" in text
    assert "稽核-V-1" in text and "A-1" in text and "待决定" in text
    assert f"violation:V-1@{PHYSICIAN}" in text and "已送达" in text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="timeline"' in text
    # the window before the suspension's end (衢州 第二十二条), missed: no request was filed
    assert 'id="windows"' in text and "no restoration request filed" in text


def test_the_due_list_names_interviews_and_appeals_with_deadlines(
        ui: TestClient, sqlite_store: Store, write_jsonl: Write, profile: Profile) -> None:
    rows = [violation("V-1", "18.1", "2026-03-02"), appeal("A-1", "V-1", "2026-03-03")]
    import_files(sqlite_store, profile, [write_jsonl(rows)])
    login(ui, "helpdesk")
    text = ui.get("/ui/due?year=2026").text
    assert "约谈" in text and "异议待决定" in text and PHYSICIAN in text
    assert "2026-04-15" in text  # 30 working days after 2026-03-03 (衢州 第二十七条)


def test_a_decision_page_shows_each_line_and_why(ui: TestClient, sqlite_store: Store, redis: redis.Redis,
                                                 keys: Keys) -> None:
    claim = {"claim_id": "C-1", "institution_code": SITE_A, "service_date": "2026-03-10",
             "lines": [{"line_id": "1", "physician_code": PHYSICIAN}, {"line_id": "2", "physician_code": "D404"}]}
    answer = ui.post("/v1/claims/check", json=claim, headers={"X-API-Key": ui.keys["settlement"]}).json()  # type: ignore[attr-defined]
    for _ in range(100):  # the decision log writes in the background
        if redis.xlen(keys.decisions):
            break
        time.sleep(0.05)
    Archiver(redis, keys.decisions, Archive(sqlite_store.engine), block_ms=0, batch=64).run(once=True)
    login(ui, "helpdesk")
    text = ui.get(f"/ui/decisions/{answer['decision_id']}").text
    assert "部分拒付" in text and "未登记医师" in text and "开单医生不在医保医师库" in text
    found = ui.get("/ui/decisions?claim_id=C-1").text
    assert answer["decision_id"] in found


def test_a_correction_keeps_the_version_it_replaced_with_who_when_and_why(ui: TestClient) -> None:
    login(ui, "officer")
    token = token_of(ui.get("/ui/record/violation").text)
    row = {"id": "V-1", "physician_code": PHYSICIAN, "institution_code": SITE_A, "item": "19.1", "case_id": "C1",
           "occurred_on": "2026-03-01", "scored_on": "2026-03-02", "basis_type": "audit", "basis_no": "稽核1",
           "csrf": token}
    assert ui.post("/ui/record/violation", data=row, follow_redirects=False).status_code == 303
    again = ui.post("/ui/record/violation", data={**row, "item": "18.1"})  # a correction says why
    assert again.status_code == 422 and "该记录已存在" in again.text
    stranger = ui.post("/ui/record/violation", data={**row, "id": "V-9", "change_reason": "更正"})
    assert stranger.status_code == 422 and "没有可更正的记录" in stranger.text
    corrected = {**row, "item": "18.1", "change_reason": "复核: 项目录入错误"}
    assert ui.post("/ui/record/violation", data=corrected, follow_redirects=False).status_code == 303
    page = ui.get(f"/ui/physicians/{PHYSICIAN}?on=2026-03-10").text
    history = page[page.index('id="history"'):]
    assert history.count("key:officer-1") == 2
    assert "更正" in history and "复核: 项目录入错误" in history and "item=19.1" in history and "item=18.1" in history
    assert 'id="points">6<' in page  # the rules read the current version only


#: Every URL a page names: links, images and stylesheets, forms' actions.
URL = re.compile(r'\b(?:href|src|action)="([^"]*)"')


@pytest.mark.parametrize("ui", [{"root_path": "/gw"}], indirect=True)
def test_under_a_root_path_every_link_form_redirect_and_cookie_carries_it(
        ui: TestClient, sqlite_store: Store, write_jsonl: Write, profile: Profile) -> None:
    """Behind a proxy serving drgate at /gw (uvicorn --root-path /gw: ``path`` carries the prefix,
    ``root_path`` names it), the browser knows only /gw/...: every URL a page sends it must too."""
    import_files(sqlite_store, profile, [write_jsonl([violation("V-1", "18.1", "2026-03-02"),
                                                     appeal("A-1", "V-1", "2026-03-03")])])
    assert ui.get("/gw/ui", follow_redirects=False).headers["location"] == "/gw/ui/"
    assert ui.get("/gw/ui/", follow_redirects=False).headers["location"] == "/gw/ui/login"
    answer = login(ui, "admin", "/gw")
    assert answer.status_code == 303 and answer.headers["location"] == "/gw/ui/"
    cookies = answer.headers.get_list("set-cookie")
    assert cookies and all("Path=/gw/ui/" in c for c in cookies), cookies
    pages = ["/gw/ui/", f"/gw/ui/?q={PHYSICIAN}", f"/gw/ui/physicians/{PHYSICIAN}?on=2026-03-10&recorded=violation",
             "/gw/ui/due?year=2026", "/gw/ui/decisions?claim_id=C-1", "/gw/ui/decisions/none",
             "/gw/ui/record/violation", "/gw/ui/record/nothing"]
    token = token_of(ui.get("/gw/ui/").text)
    published = ui.post("/gw/ui/publish", data={"csrf": token, "back": f"/ui/physicians/{PHYSICIAN}"})
    seen: set[str] = set()
    for text in [ui.get(path).text for path in pages] + [published.text]:
        urls = URL.findall(text)
        assert urls
        seen.update(urls)
    assert [u for u in seen if not u.startswith("/gw/ui/")] == []
    assert f"/gw/ui/physicians/{PHYSICIAN}" in seen and "/gw/ui/static/ui.css" in seen
    assert ui.get("/gw/ui/static/ui.css").status_code == 200
    searched = ui.get("/gw/ui/decisions?decision_id=D-1", follow_redirects=False)
    assert searched.headers["location"] == "/gw/ui/decisions/D-1"
    row = {"id": "V-2", "physician_code": PHYSICIAN, "institution_code": SITE_A, "item": "19.1", "case_id": "C1",
           "occurred_on": "2026-03-01", "scored_on": "2026-03-02", "basis_type": "audit", "basis_no": "稽核1",
           "csrf": token}
    recorded = ui.post("/gw/ui/record/violation", data=row, follow_redirects=False)
    assert recorded.headers["location"] == f"/gw/ui/physicians/{PHYSICIAN}?recorded=violation"
    out = ui.post("/gw/ui/logout", data={"csrf": token}, follow_redirects=False)
    assert out.headers["location"] == "/gw/ui/login"
    assert all("Path=/gw/ui/" in c for c in out.headers.get_list("set-cookie"))
