"""API keys as records of the store: added with a role, listed without the key, revoked; published
with the snapshot, so a gateway takes a new key and drops a revoked one at the next sync."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.cli.main import EXIT_INPUT, EXIT_OK, main
from gateway.settings import Settings
from rules.errors import ApiKeyError
from rules.store.api_keys import active_keys, add_key, digest_of, list_keys, revoke_key
from rules.store.scans import Store

CLAIM = {"claim_id": "C-1", "institution_code": "H33080200001", "service_date": "2026-03-02",
         "lines": [{"line_id": "1", "physician_code": "D330802000001"}]}


def test_a_key_is_stored_by_its_digest_with_its_name_and_role(store: Store) -> None:
    assert active_keys(store) is None  # never a key: nothing to publish
    key = add_key(store, "helpdesk-1", "helpdesk")
    assert active_keys(store) == {digest_of(key): ("helpdesk-1", "helpdesk")}
    (listed,) = list_keys(store)
    assert (listed.name, listed.role, listed.revoked_at) == ("helpdesk-1", "helpdesk", None)
    assert key not in str(listed.as_dict()) and listed.digest not in str(listed.as_dict())


def test_a_revoked_key_keeps_its_row_and_its_name(store: Store) -> None:
    add_key(store, "officer-1", "officer")
    revoked = revoke_key(store, "officer-1")
    assert revoked.revoked_at is not None and active_keys(store) == {}  # none live, but keys in use
    with pytest.raises(ApiKeyError, match="exists"):
        add_key(store, "officer-1", "officer")
    with pytest.raises(ApiKeyError, match="revoked already"):
        revoke_key(store, "officer-1")
    with pytest.raises(ApiKeyError, match="not a key of this store"):
        revoke_key(store, "nobody")


@pytest.mark.parametrize(("name", "role", "why"), [
    ("ok-name", "root", "role must be one of settlement, helpdesk, officer, admin"),
    ("", "admin", "name"), ("has space", "admin", "name"), ("x" * 61, "admin", "name"),
])
def test_a_bad_name_or_role_is_refused(store: Store, name: str, role: str, why: str) -> None:
    with pytest.raises(ApiKeyError, match=why):
        add_key(store, name, role)


@pytest.fixture(name="env")
def fix_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DRGATE_REDIS_URL", settings.redis_url_value() or "")
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", settings.store_url_value())
    monkeypatch.setenv("DRGATE_VAR_DIR", settings.var_dir)
    Store(settings.store_url_value()).init()
    return settings


def test_cli_adds_lists_and_revokes_keys_and_never_shows_one_twice(env: Settings,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key", "add", "--name", "desk-1", "--role", "helpdesk", "--json"]) == EXIT_OK
    made = orjson.loads(capsys.readouterr().out)
    assert set(made) == {"key", "name", "role"} and (made["name"], made["role"]) == ("desk-1", "helpdesk")
    assert main(["api-key", "add", "--name", "pipeline", "--role", "settlement"]) == EXIT_OK
    plain = capsys.readouterr().out
    assert main(["api-key", "list"]) == EXIT_OK
    listing = capsys.readouterr().out
    assert "desk-1" in listing and "pipeline" in listing
    assert made["key"] not in listing and digest_of(made["key"]) not in listing and plain.split()[-1] not in listing
    assert main(["api-key", "revoke", "desk-1"]) == EXIT_OK
    capsys.readouterr()
    assert main(["api-key", "list", "--json"]) == EXIT_OK
    rows = {k["name"]: k for k in orjson.loads(capsys.readouterr().out)}
    assert rows["desk-1"]["revoked_at"] and rows["pipeline"]["revoked_at"] is None
    assert set(rows["desk-1"]) == {"name", "role", "created_at", "revoked_at"}


def test_cli_refuses_a_taken_name_and_an_unknown_role(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key", "add", "--name", "a", "--role", "admin"]) == EXIT_OK
    assert main(["api-key", "add", "--name", "a", "--role", "admin"]) == EXIT_INPUT
    assert "exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["api-key", "add", "--name", "b", "--role", "root"])
    assert refused.value.code == 2
    assert main(["api-key", "revoke", "nobody"]) == EXIT_INPUT


@pytest.fixture(name="gateway")
def fix_gateway(settings: Settings, redis: redis.Redis, keys: Keys, syncer: Syncer,
                store: Store) -> Iterator[TestClient]:
    syncer.full(allow_shrink=True)
    with TestClient(create_app(settings.model_copy(update={"store_url": SecretStr(store.url)}))) as client:
        yield client


def _until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_key_works_from_the_next_sync_and_stops_at_the_sync_after_its_revocation(
        gateway: TestClient, store: Store, syncer: Syncer) -> None:
    key = add_key(store, "pipeline-1", "settlement")

    def status() -> int:
        return gateway.post("/v1/claims/check", json=CLAIM, headers={"X-API-Key": key}).status_code

    assert status() == 200  # no key known yet: checks open, as before keys existed
    syncer.incremental()
    assert _until(lambda: gateway.post("/v1/claims/check", json=CLAIM).status_code == 401) and status() == 200
    revoke_key(store, "pipeline-1")
    assert status() == 200  # until the next sync
    syncer.incremental()  # nothing else changed: the keys go with the freshness stamp
    assert _until(lambda: status() == 401)


def test_a_key_of_the_store_is_named_in_the_decision_log_and_never_logged(
        gateway: TestClient, store: Store, syncer: Syncer, redis: redis.Redis, keys: Keys,
        caplog: pytest.LogCaptureFixture) -> None:
    key = add_key(store, "pipeline-2", "settlement")
    syncer.incremental()
    assert _until(lambda: gateway.post("/v1/claims/check", json=CLAIM).status_code == 401)
    with caplog.at_level(logging.DEBUG):
        bearer = {"Authorization": f"Bearer {key}"}
        assert gateway.post("/v1/claims/check", json=CLAIM, headers=bearer).status_code == 200
        gateway.get("/v1/physicians/D330802000001", headers={"X-API-Key": key})
    assert _until(lambda: redis.xlen(keys.decisions) > 0)
    assert _until(lambda: orjson.loads(redis.xrange(keys.decisions)[-1][1][b"d"])["caller"] == "key:pipeline-2")
    published = redis.hgetall(keys.callers)
    assert all(key.encode() not in v and key.encode() != d for d, v in published.items())  # type: ignore[union-attr]
    assert key not in caplog.text


def test_a_configured_digest_is_a_settlement_key(settings: Settings, syncer: Syncer, store: Store) -> None:
    syncer.full(allow_shrink=True)
    key = "k-configured"
    guarded = settings.model_copy(update={"api_keys": (digest_of(key),), "store_url": SecretStr(store.url)})
    with TestClient(create_app(guarded), headers={"X-API-Key": key}) as client:
        assert client.post("/v1/claims/check", json=CLAIM).status_code == 200
        assert client.get("/v1/physicians/D330802000001").status_code == 403
        refused = client.post("/nhsa/2204", json={"infno": "2204", "input": {}}, headers={"X-API-Key": "wrong"})
        assert refused.status_code == 401 and refused.json()["infcode"] == -1


def test_required_keys_close_checks_even_before_any_key_is_known(settings: Settings, syncer: Syncer) -> None:
    syncer.full(allow_shrink=True)
    with TestClient(create_app(settings.model_copy(update={"require_api_keys": True}))) as client:
        assert client.post("/v1/claims/check", json=CLAIM).status_code == 401
        assert client.get("/healthz").status_code == 200
