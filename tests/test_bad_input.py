"""Bad input at the edge (413, 422 before any Redis key is built) and bad data in Redis (`unverified`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys, bucket_of
from cache.sync import Syncer
from gateway.app import create_app
from gateway.settings import Settings
from gateway.state import GatewayState
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import expected_reason, home_institution, institution_code, physician_code, seed


def _seeded_client(settings: Settings, redis: redis.Redis, keys: Keys, profile: Profile) -> Iterator[TestClient]:
    store = Store(settings.store_url_value())
    seed(store, 300)
    Syncer(redis, keys, store, profile).full()
    store.dispose()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(name="client")
def fix_client(settings: Settings, redis: redis.Redis, keys: Keys, profile: Profile) -> Iterator[TestClient]:
    yield from _seeded_client(settings, redis, keys, profile)


@pytest.fixture(name="reading_client")
def fix_reading_client(settings: Settings, redis: redis.Redis, keys: Keys, profile: Profile) -> Iterator[TestClient]:
    """A gateway that reads records per claim (no preload): what it meets in Redis is what it decodes."""
    yield from _seeded_client(settings.model_copy(update={"preload": False}), redis, keys, profile)


def state_of(client: TestClient) -> GatewayState:
    return client.app.state.gateway  # type: ignore[attr-defined,no-any-return]


def claim(*codes: str, institution: str = institution_code(0)) -> dict[str, Any]:
    return {"claim_id": "C-1", "institution_code": institution, "service_date": "2026-03-02",
            "lines": [{"line_id": str(n), "physician_code": c} for n, c in enumerate(codes)]}


def test_a_body_over_1_mib_gets_413(client: TestClient) -> None:
    body = b'{"claim_id": "' + b"x" * (1 << 20) + b'"}'
    assert client.post("/v1/claims/check", content=body, headers={"content-type": "application/json"}
                       ).status_code == 413


def test_a_chunked_body_over_1_mib_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    assert client.post("/v1/claims/check", content=chunks()).status_code == 413


@pytest.mark.parametrize("code", ["D*", "D:1", "{drgate}:meta", "D 1", "D\t1", "D\n", "D\x00", "D\x7f", "医师1",
                                  "Ｄ1", "", "D" * 31])
def test_bad_codes_are_refused_before_any_redis_read(client: TestClient, code: str) -> None:
    misses = state_of(client).cache.misses
    r = client.post("/v1/claims/check", json=claim(code))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "lines", 0, "physician_code"]
    assert state_of(client).cache.misses == misses  # never looked up, so never a Redis key


@pytest.mark.parametrize("path", ["/v1/physicians/D%2A", "/v1/physicians/D%3A1", "/v1/physicians/D%201",
                                  "/v1/physicians/D%0A", "/v1/physicians/%E5%8C%BB"])
def test_bad_codes_in_the_status_path_are_refused(client: TestClient, path: str) -> None:
    misses = state_of(client).cache.misses
    assert client.get(path).status_code == 422
    assert state_of(client).cache.misses == misses


@pytest.mark.parametrize("field, value", [("emergency", 0), ("emergency", "true"), ("service_date", "2026-02-29"),
                                          ("service_date", "2026-03-02 24:00:00"), ("lines", [])])
def test_values_off_the_schema_are_refused(client: TestClient, field: str, value: Any) -> None:
    body = {**claim(physician_code(1)), field: value}
    assert client.post("/v1/claims/check", json=body).status_code == 422


def test_not_json_gets_422(client: TestClient) -> None:
    assert client.post("/v1/claims/check", content=b"\xff\xfe{").status_code == 422


@pytest.mark.parametrize("garbage", [b"not json", b"[[1,2,3]]", b'[[["H1","x",0]]]', b"5", b'"s"', b"[[[]]]",
                                     b"[" * 5000, b'[[["H1",1,184467440737095516160]]]', b'[[],[["suspend",1,0,0]]]'])
def test_a_corrupt_record_gives_unverified_for_its_line_only(
    reading_client: TestClient, redis: redis.Redis, keys: Keys, garbage: bytes
) -> None:
    client = reading_client
    snap = state_of(client).cache.snapshot
    assert snap is not None
    bad, good = physician_code(1), physician_code(2)
    redis.hset(keys.bucket(snap.generation, bucket_of(bad, len(snap.bucket_keys))), bad, garbage)
    r = client.post("/v1/claims/check", json=claim(bad, good))
    assert r.status_code == 200
    lines = r.json()["lines"]
    assert lines[0]["reason"] == "unverified"
    assert lines[1]["reason"] == expected_reason(2, home_institution(0))


def test_a_key_of_the_wrong_type_gives_unverified_not_an_outage(
    reading_client: TestClient, redis: redis.Redis, keys: Keys
) -> None:
    client = reading_client
    snap = state_of(client).cache.snapshot
    assert snap is not None
    bad = physician_code(1)
    key = keys.bucket(snap.generation, bucket_of(bad, len(snap.bucket_keys)))
    redis.delete(key)
    redis.set(key, "not a hash")
    r = client.post("/v1/claims/check", json=claim(bad))
    assert (r.status_code, r.json()["lines"][0]["reason"]) == (200, "unverified")
    assert state_of(client).cache.redis_ok  # Redis answered; only that key is bad


def test_a_corrupt_record_met_by_the_preload_gives_unverified(
    settings: Settings, redis: redis.Redis, keys: Keys, profile: Profile
) -> None:
    store = Store(settings.store_url_value())
    seed(store, 300)
    result = Syncer(redis, keys, store, profile).full()
    store.dispose()
    bad, good = physician_code(1), physician_code(2)
    redis.hset(keys.bucket(result.generation, bucket_of(bad, int(redis.hget(keys.meta, "buckets") or 0))), bad, b"{")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        time.sleep(0.5)  # the preload runs between requests
        lines = client.post("/v1/claims/check", json=claim(bad, good)).json()["lines"]
    assert lines[0]["reason"] == "unverified"
    assert lines[1]["reason"] == expected_reason(2, home_institution(0))


def test_a_corrupt_meta_does_not_stop_the_follower(client: TestClient, redis: redis.Redis, keys: Keys) -> None:
    state = state_of(client)
    version = state.cache.snapshot.version  # type: ignore[union-attr]
    redis.hset(keys.meta, mapping={"buckets": "many", "version": version + 1, "id": "f" * 32})  # a new publication
    time.sleep(0.5)  # a few polls of the follower
    r = client.post("/v1/claims/check", json=claim(physician_code(3)))
    assert r.status_code == 200  # answered from the snapshot held, flagged stale
    assert "stale" in r.json()["lines"][0]["flags"]
    redis.hset(keys.meta, mapping={"buckets": str(len(state.cache.snapshot.bucket_keys))})  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while not (state.cache.redis_ok and state.cache.snapshot.version == version + 1):  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the follower did not come back"
        time.sleep(0.02)
