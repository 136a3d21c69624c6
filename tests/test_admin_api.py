"""The admin API: officers record and correct the import contract's records over HTTP with the
import's validation and messages, all or nothing, every version kept with who, when and why; an
administrator publishes, and the line's decision changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cache.keys import Keys
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.app import create_app
from gateway.settings import Settings
from rules.errors import ImportFileError
from rules.profiles import Profile
from rules.store.api_keys import add_key
from rules.store.history import physician_history
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.schema import record_history, sanctions
from tests.rows import PHYSICIAN, SITE_A, agreement, institution, physician, sanction, violation

ROLES = ("settlement", "helpdesk", "officer", "admin")
DAY = "2026-03-02"
CLAIM = {"claim_id": "C-1", "institution_code": SITE_A, "service_date": DAY,
         "lines": [{"line_id": "1", "physician_code": PHYSICIAN}]}
SUSPEND = sanction("S-1", "suspend", "2026-03-01", "2026-06-01")


@pytest.fixture(name="client")
def fix_client(settings: Settings, syncer: Syncer, store: Store, profile: Profile, write_jsonl: Any,
               redis: redis.Redis) -> Iterator[TestClient]:
    import_files(store, profile, [write_jsonl([institution(), physician(), agreement("2024-01-01")])])
    keys = {role: add_key(store, f"{role}-1", role) for role in ROLES}
    syncer.full(allow_shrink=True)
    app = create_app(settings.model_copy(update={"store_url": SecretStr(store.url), "access_log": True}))
    with TestClient(app) as client:
        deadline = time.monotonic() + 5
        while app.state.keys.published_id is None:
            assert time.monotonic() < deadline, "the published keys did not reach the gateway"
            time.sleep(0.05)
        client.role_keys = keys  # type: ignore[attr-defined]
        yield client


def as_(client: TestClient, role: str) -> dict[str, str]:
    return {"X-API-Key": client.role_keys[role]}  # type: ignore[attr-defined]


def test_an_officer_records_a_batch_and_every_record_is_kept_with_who_and_when(client: TestClient,
                                                                                store: Store) -> None:
    batch = [violation("V-1", "19.5", "2026-03-01"), SUSPEND]
    reply = client.post("/admin/v1/records", json={"records": batch}, headers=as_(client, "officer"))
    assert reply.status_code == 201, reply.text
    assert reply.json() == {"written": {"violation": 1, "sanction": 1}, "records": 2}
    found = physician_history(store, PHYSICIAN)
    mine = [h for h in found if h["actor"] == "key:officer-1"]
    assert [(h["kind"], h["op"], h["version"]) for h in mine] == [("violation", "create", 1), ("sanction", "create", 1)]
    assert mine[1]["record"] == {**SUSPEND, "ban_until": None}
    listed = client.get(f"/admin/v1/records/sanction?physician={PHYSICIAN}", headers=as_(client, "helpdesk")).json()
    assert [r["id"] for r in listed["records"]] == ["S-1"] and listed["next_offset"] is None


def test_bad_records_are_named_as_the_import_names_bad_lines_and_nothing_is_written(
        client: TestClient, store: Store, profile: Profile, write_jsonl: Any) -> None:
    bad = {**violation("V-2", "99.9", "2026-03-01")}
    batch = [violation("V-1", "19.5", "2026-03-01"), bad, {"kind": "sanction", "id": "S-2"}]
    reply = client.post("/admin/v1/records", json={"records": batch}, headers=as_(client, "officer"))
    assert reply.status_code == 422
    texts = [p["text"] for p in reply.json()["detail"]]
    with pytest.raises(ImportFileError) as by_file:
        import_files(store, profile, [write_jsonl(batch)])
    expected = [f"line {p.line}: {p.field}: {p.message}" for p in by_file.value.problems]
    assert texts == expected and texts[0].startswith("line 2: item: '99.9' is not an item")
    with store.engine.connect() as conn:  # all or nothing: V-1 was good, and is not written either
        assert conn.execute(sa.select(sa.func.count()).select_from(record_history)
                            .where(record_history.c.record_key == '["V-1"]')).scalar_one() == 0


def test_a_create_of_a_stored_record_and_a_correction_of_a_new_one_are_refused(client: TestClient) -> None:
    officer = as_(client, "officer")
    assert client.post("/admin/v1/records", json={"record": SUSPEND}, headers=officer).status_code == 201
    again = client.post("/admin/v1/records", json={"record": SUSPEND}, headers=officer)
    assert again.status_code == 422 and "recorded already; correct it with PUT" in again.json()["detail"][0]["text"]
    unknown = client.put("/admin/v1/records", json={"record": {**SUSPEND, "id": "S-9"}, "reason": "typo"},
                         headers=officer)
    assert unknown.status_code == 422 and "is not recorded" in unknown.json()["detail"][0]["text"]
    no_reason = client.put("/admin/v1/records", json={"record": SUSPEND}, headers=officer)
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"
    both = client.post("/admin/v1/records", json={"record": SUSPEND, "records": [SUSPEND]}, headers=officer)
    assert both.status_code == 422


def test_a_correction_keeps_the_previous_version_with_its_reason(client: TestClient, store: Store) -> None:
    officer = as_(client, "officer")
    client.post("/admin/v1/records", json={"record": SUSPEND}, headers=officer)
    corrected = {**SUSPEND, "end": "2026-04-01"}
    reply = client.put("/admin/v1/records", json={"record": corrected, "reason": "决定书更正: 期限为一个月"},
                       headers=officer)
    assert reply.status_code == 200, reply.text
    history = client.get(f"/admin/v1/physicians/{PHYSICIAN}/history", headers=as_(client, "helpdesk")).json()
    versions = [h for h in history["history"] if h["kind"] == "sanction"]
    assert [(v["version"], v["op"], v["record"]["end"], v["reason"]) for v in versions] == [
        (1, "create", "2026-06-01", None), (2, "correct", "2026-04-01", "决定书更正: 期限为一个月")]
    with store.engine.connect() as conn:  # the store holds the current version only
        assert conn.execute(sa.select(sanctions.c.end)).scalars().all() == [sa.Date().python_type(2026, 4, 1)]


def test_a_revocation_is_in_its_targets_physicians_history_with_its_reason(client: TestClient) -> None:
    officer = as_(client, "officer")
    client.post("/admin/v1/records", json={"record": SUSPEND}, headers=officer)
    revoke = {"kind": "revocation", "target_id": "S-1", "revoked_on": "2026-03-05", "reason": "复议撤销"}
    assert client.post("/admin/v1/records", json={"record": revoke}, headers=officer).status_code == 201
    history = client.get(f"/admin/v1/physicians/{PHYSICIAN}/history", headers=as_(client, "officer")).json()
    last = history["history"][-1]
    assert (last["kind"], last["op"], last["reason"], last["actor"]) == ("revocation", "revoke", "复议撤销",
                                                                         "key:officer-1")


def test_the_history_of_an_unknown_physician_is_404(client: TestClient) -> None:
    assert client.get("/admin/v1/physicians/D000000000000/history", headers=as_(client, "helpdesk")).status_code == 404


def test_a_publish_makes_the_lines_decision_change(client: TestClient, redis: redis.Redis, keys: Keys) -> None:
    pipeline = as_(client, "settlement")
    assert client.post("/v1/claims/check", json=CLAIM, headers=pipeline).json()["decision"] == "pass"
    client.post("/admin/v1/records", json={"record": SUSPEND}, headers=as_(client, "officer"))
    assert client.post("/admin/v1/publish", headers=as_(client, "officer")).status_code == 403
    published = client.post("/admin/v1/publish", headers=as_(client, "admin"))
    assert published.status_code == 200, published.text
    answer = published.json()
    assert answer["snapshot"]["id"] == read_meta(redis, keys)["id"] and answer["changed"] == 1
    assert answer["mode"] == "incremental"
    deadline = time.monotonic() + 5
    while (line := client.post("/v1/claims/check", json=CLAIM, headers=pipeline).json()["lines"][0])["decision"] \
            == "pass":
        assert time.monotonic() < deadline, "the publication did not reach the gateway"
        time.sleep(0.05)
    assert (line["decision"], line["reason"]) == ("reject", "suspended")


def test_a_publish_while_another_sync_holds_the_lock_is_409(client: TestClient, syncer: Syncer) -> None:
    with syncer.lock():
        reply = client.post("/admin/v1/publish", headers=as_(client, "admin"))
    assert reply.status_code == 409 and "another sync" in reply.json()["detail"]


def test_an_admin_makes_and_revokes_keys_and_no_key_reaches_a_log(client: TestClient, store: Store,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    admin = as_(client, "admin")
    with caplog.at_level(logging.DEBUG):
        made = client.post("/admin/v1/keys", json={"name": "desk-2", "role": "helpdesk"}, headers=admin)
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        listed = client.get("/admin/v1/keys", headers=admin)
        assert client.post("/admin/v1/keys", json={"name": "desk-2", "role": "helpdesk"}, headers=admin
                           ).status_code == 409
        assert client.post("/admin/v1/keys/desk-2/revoke", headers=admin).status_code == 200
        assert client.post("/admin/v1/keys/desk-2/revoke", headers=admin).status_code == 409
        assert client.post("/admin/v1/keys/nobody/revoke", headers=admin).status_code == 404
        assert client.get("/admin/v1/keys", headers=as_(client, "officer")).status_code == 403
        client.post("/admin/v1/records", json={"record": SUSPEND}, headers=as_(client, "officer"))
    key = made.json()["key"]
    assert {k["name"] for k in listed.json()["keys"]} >= {"desk-2", "admin-1"} and key not in listed.text
    for secret in [key, *client.role_keys.values()]:  # type: ignore[attr-defined]
        assert secret not in caplog.text


def test_reimporting_the_same_file_adds_no_history(store: Store, profile: Profile, write_jsonl: Any) -> None:
    path: Path = write_jsonl([institution(), physician(), agreement("2024-01-01"), SUSPEND])
    import_files(store, profile, [path])
    first = physician_history(store, PHYSICIAN)
    import_files(store, profile, [path])
    assert physician_history(store, PHYSICIAN) == first
    assert [h["actor"] for h in first] == [f"import:{path}:2", f"import:{path}:3", f"import:{path}:4"]
    import_files(store, profile, [write_jsonl([{**SUSPEND, "end": "2026-05-01"}])])
    assert [h["version"] for h in physician_history(store, PHYSICIAN) if h["kind"] == "sanction"] == [1, 2]


def test_a_record_stored_before_history_keeps_its_first_version(store: Store, profile: Profile,
                                                                write_jsonl: Any) -> None:
    import_files(store, profile, [write_jsonl([institution(), physician(), SUSPEND])])
    with store.engine.begin() as conn:
        conn.execute(record_history.delete())  # as a store migrated from before history
    import_files(store, profile, [write_jsonl([{**SUSPEND, "end": "2026-05-01"}])])
    ops = [(h["op"], h["record"]["end"], h["actor"]) for h in physician_history(store, PHYSICIAN)]
    assert ops[0] == ("before", "2026-06-01", "(before history)") and ops[1][:2] == ("correct", "2026-05-01")


def test_a_list_filter_the_kind_lacks_is_refused(client: TestClient) -> None:
    helpdesk = as_(client, "helpdesk")
    assert client.get(f"/admin/v1/records/revocation?physician={PHYSICIAN}", headers=helpdesk).status_code == 422
    own = client.get(f"/admin/v1/records/physician?physician={PHYSICIAN}", headers=helpdesk).json()
    assert [r["code"] for r in own["records"]] == [PHYSICIAN]


def test_a_method_the_path_does_not_serve_names_every_one_it_does(client: TestClient) -> None:
    reply = client.request("OPTIONS", "/admin/v1/records", headers=as_(client, "officer"))
    assert reply.status_code == 405 and reply.headers["allow"] == "POST, PUT"
    reply = client.request("DELETE", "/admin/v1/keys", headers=as_(client, "admin"))
    assert reply.status_code == 405 and reply.headers["allow"] == "GET, POST"
