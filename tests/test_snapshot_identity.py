"""A publication is known by a random id and a content digest, never by Redis's counters.

The issue's repro: a gateway holds generation 1 / version 1; Redis is killed, a suspension is
imported, Redis comes back empty and `drgate sync --full` publishes generation 1 / version 1
again.  The gateway must see a new publication (a new id) and answer `suspended` within 1 s.
A real redis-server of the test's own, killed and restarted empty; a real gateway app.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cache.digest import entries_term, fields_term, hexdigest
from cache.keys import Keys
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.app import create_app
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.seed import expected_reason, home_institution, institution_code, physician_code, seed
from tests.fault_servers import RedisServer

PREFIX = "drgate-identity"
N = 300


def published_digest(client: redis.Redis, keys: Keys) -> str | None:
    """The digest of what Redis holds for the published snapshot, read whole (the sync computes it as it writes)."""
    meta: dict[bytes, bytes] = client.hgetall(keys.meta)  # type: ignore[assignment]
    if b"generation" not in meta:
        return None
    generation, buckets = int(meta[b"generation"]), int(meta[b"buckets"])
    terms = [fields_term(client.hgetall(key)) for key in keys.buckets(generation, buckets)]  # type: ignore[arg-type]
    terms.append(entries_term(b"px", client.hgetall(keys.overflow(generation))))  # type: ignore[arg-type]
    terms.append(entries_term(b"i", client.hgetall(keys.institutions(generation))))  # type: ignore[arg-type]
    return hexdigest(terms)


def claim(i: int) -> dict[str, Any]:
    return {"claim_id": f"C-{i}", "institution_code": institution_code(home_institution(i)),
            "service_date": "2026-03-02", "lines": [{"line_id": "1", "physician_code": physician_code(i)}]}


def first_ok(after: int) -> int:
    return next(i for i in range(after, N) if expected_reason(i) == "ok")


def suspend(write_jsonl: Any, store: Store, profile: Profile, i: int) -> None:
    import_files(store, profile, [write_jsonl([
        {"kind": "sanction", "id": f"S-{i}", "physician_code": physician_code(i), "action": "suspend",
         "start": "2026-01-01", "end": None, "basis": "test"}])])


def restart_empty(server: RedisServer) -> None:
    server.kill()
    for f in (server.workdir / "appendonlydir").iterdir():
        f.unlink()
    server.start()


def full_sync(server: RedisServer, store: Store, profile: Profile) -> dict[str, str]:
    client = redis.Redis.from_url(server.url)
    try:
        syncer = Syncer(client, Keys(PREFIX), store, profile)
        with syncer.lock():
            syncer.full()
        return read_meta(client, Keys(PREFIX))
    finally:
        client.close()


def wait_until(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "condition not reached"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture(name="own_redis")
def fix_own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("preload", [True, False])
def test_a_full_sync_into_a_redis_restarted_empty_reaches_the_gateway(
    own_redis: RedisServer, sqlite_store: Store, profile: Profile, write_jsonl: Any, tmp_path: Path, preload: bool
) -> None:
    seed(sqlite_store, N)
    first = full_sync(own_redis, sqlite_store, profile)
    settings = Settings(redis_url=own_redis.url, redis_prefix=PREFIX, store_url=sqlite_store.url,
                        var_dir=str(tmp_path / "var"), poll_interval=0.1, preload=preload)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        wait_until(lambda: state.cache.snapshot is not None and state.cache.redis_ok, 10)
        seen = first
        for a in (first_ok(1), first_ok(first_ok(1) + 1)):  # twice in a row: the counters repeat each time
            answer = client.post("/v1/claims/check", json=claim(a)).json()
            assert answer["lines"][0]["reason"] == "ok"
            assert answer["snapshot"]["id"] == seen["id"]
            restart_empty(own_redis)
            suspend(write_jsonl, sqlite_store, profile, a)
            meta = full_sync(own_redis, sqlite_store, profile)
            assert (meta["generation"], meta["version"]) == (first["generation"], first["version"])  # counters lost
            assert meta["id"] != seen["id"] and meta["digest"] != seen["digest"]

            def answers_suspended(a: int = a, meta: dict[str, str] = meta) -> bool:
                answer = client.post("/v1/claims/check", json=claim(a)).json()
                return bool(answer["lines"][0]["reason"] == "suspended" and answer["snapshot"]["id"] == meta["id"])

            wait_until(answers_suspended, 1.0)
            seen = meta


def test_every_publication_has_a_new_id_and_the_digest_of_what_redis_holds(
    redis: redis.Redis, keys: Keys, store: Store, profile: Profile, write_jsonl: Any
) -> None:
    seed(store, 200)
    syncer = Syncer(redis, keys, store, profile)
    syncer.full()
    full = read_meta(redis, keys)
    assert len(full["id"]) == 32 and full["generation_id"] == full["id"]
    assert published_digest(redis, keys) == full["digest"]
    suspend(write_jsonl, store, profile, 3)
    import_files(store, profile, [write_jsonl([
        {"kind": "institution_sanction", "id": "IS-1", "institution_code": institution_code(0), "action": "suspend",
         "start": "2026-01-01", "end": None, "basis": "test"}])])
    syncer.incremental()
    inc = read_meta(redis, keys)
    assert inc["id"] != full["id"] and inc["generation_id"] == full["id"]
    assert inc["digest"] != full["digest"]
    assert published_digest(redis, keys) == inc["digest"]  # derived from the old digest and the changes
    syncer.full()
    again = read_meta(redis, keys)
    assert again["id"] not in (full["id"], inc["id"])
    assert again["digest"] == inc["digest"]  # same content, whoever wrote it


def test_the_decision_log_entry_carries_the_snapshot_id(
    redis: redis.Redis, keys: Keys, store: Store, profile: Profile, settings: Settings
) -> None:
    import orjson

    seed(store, 50)
    Syncer(redis, keys, store, profile).full()
    meta = read_meta(redis, keys)
    settings = settings.model_copy(update={"store_url": SecretStr(store.url)})
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        wait_until(lambda: state.cache.snapshot is not None, 10)
        answer = client.post("/v1/claims/check", json=claim(1)).json()
        assert answer["snapshot"]["id"] == meta["id"]
        wait_until(lambda: redis.xlen(keys.decisions) > 0, 10)
    (_, fields), = redis.xrange(keys.decisions)  # type: ignore[misc]
    entry = orjson.loads(fields[b"d"])
    assert entry["snapshot"] == meta["id"] and entry["id"] == answer["decision_id"]
