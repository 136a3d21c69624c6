"""The last snapshot a gateway host verified, on disk: a worker started while Redis is down answers
from it (`stale`), never `unverified` for a physician it knows; a corrupt or foreign file is
refused and named in the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cache.disk import SnapshotFile
from cache.keys import Keys
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.app import create_app
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.api_keys import add_key, revoke_key
from rules.store.scans import Store
from rules.store.seed import expected_reason, home_institution, institution_code, physician_code, seed
from tests.fault_servers import Gateway, RedisServer, free_port

N = 300


def claim(*numbers: int) -> dict[str, Any]:
    return {"claim_id": "C-1", "institution_code": institution_code(home_institution(numbers[0])),
            "service_date": "2026-03-02",
            "lines": [{"line_id": str(i), "physician_code": physician_code(i)} for i in numbers]}


def same_site(first: int) -> list[int]:
    return [i for i in range(N) if home_institution(i) == home_institution(first)]


def wait_for_file(file: SnapshotFile, publication: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while file.held_id() != publication:
        assert time.monotonic() < deadline, "the snapshot file was not written"
        time.sleep(0.05)


@pytest.fixture(name="own_redis")
def fix_own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def test_a_gateway_started_while_redis_is_down_answers_from_the_last_snapshot_it_verified(
    own_redis: RedisServer, sqlite_store: Store, profile: Profile, tmp_path: Path
) -> None:
    seed(sqlite_store, N)
    client = redis.Redis.from_url(own_redis.url)
    Syncer(client, Keys("drgate-disk"), sqlite_store, profile).full()
    meta = read_meta(client, Keys("drgate-disk"))
    client.close()
    env = {"DRGATE_REDIS_URL": own_redis.url, "DRGATE_REDIS_PREFIX": "drgate-disk",
           "DRGATE_STORE_URL": sqlite_store.url, "DRGATE_VAR_DIR": str(tmp_path / "var"),
           "DRGATE_ON_UNVERIFIED": "fail_open"}
    gateway = Gateway(env)  # a previous run: it verifies the snapshot and keeps it
    try:
        wait_for_file(SnapshotFile(tmp_path / "var" / "snapshot-drgate-disk.drgate", "drgate-disk", profile.name),
                      meta["id"])
    finally:
        gateway.stop()
    own_redis.stop()

    gateway = Gateway(env)  # Redis down from the start: ready, from the file
    try:
        ready = httpx.get(f"{gateway.url}/readyz").json()
        assert ready["redis"] is False and ready["snapshot"]["id"] == meta["id"]
        # A suspended physician, one of each other kind, and one at a suspended institution.
        picked = {expected_reason(i): i for i in range(N)}
        assert {"suspended", "terminated", "disqualified", "ok"} <= set(picked)
        for reason, i in picked.items():
            codes = same_site(i)
            answer = httpx.post(f"{gateway.url}/v1/claims/check", json=claim(i, *codes)).json()
            assert answer["snapshot"]["id"] == meta["id"]
            for line, n in zip(answer["lines"], (i, *codes), strict=True):
                assert line["reason"] == expected_reason(n), (reason, n, line)
                assert "stale" in line["flags"]
        unknown = httpx.post(f"{gateway.url}/v1/claims/check", json={
            **claim(0), "lines": [{"line_id": "1", "physician_code": "D339999999999"}]}).json()["lines"][0]
        assert unknown["reason"] == "unknown_physician"  # the file is a whole snapshot: absent means unknown
        assert "answering from the snapshot file" in gateway.output()
    finally:
        gateway.stop()


@pytest.fixture(name="kept")
def fix_kept(settings: Settings, redis: redis.Redis, keys: Keys, sqlite_store: Store, profile: Profile) -> Path:
    """A snapshot file written by a gateway run against the real Redis."""
    seed(sqlite_store, 200)
    Syncer(redis, keys, sqlite_store, profile).full()
    with TestClient(create_app(settings)):
        path = Path(settings.var_dir) / f"snapshot-{settings.redis_prefix}.drgate"
        wait_for_file(SnapshotFile(path, settings.redis_prefix, profile.name), read_meta(redis, keys)["id"])
    return path


def start_without_redis(settings: Settings, **update: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={
        "redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0"), **update})))


def test_the_file_answers_like_redis_did(kept: Path, settings: Settings) -> None:
    with start_without_redis(settings) as client:
        line = client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]
        assert (line["reason"], line["flags"]) == (expected_reason(1), ["stale"])


def test_a_corrupt_file_is_refused_and_named_in_the_log(kept: Path, settings: Settings,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    data = bytearray(kept.read_bytes())
    data[-10] ^= 0x01  # one bit, in the last section
    kept.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR), start_without_redis(settings) as client:
        assert client.get("/readyz").status_code == 503
        assert client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]["reason"] == "unverified"
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and str(kept) in refusals[0] and "checksum" in refusals[0]
    assert physician_code(1) not in caplog.text


def test_a_file_of_another_prefix_is_refused(kept: Path, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    other = kept.with_name("snapshot-elsewhere.drgate")
    other.write_bytes(kept.read_bytes())
    with caplog.at_level(logging.ERROR), start_without_redis(settings, redis_prefix="elsewhere") as client:
        assert client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]["reason"] == "unverified"
    assert any(str(other) in r.getMessage() and "prefix" in r.getMessage() for r in caplog.records)


def test_a_file_of_another_profile_is_refused(kept: Path, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR), start_without_redis(settings, profile="suzhou-2021-draft") as client:
        assert client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]["reason"] == "unverified"
    assert any(str(kept) in r.getMessage() and "profile" in r.getMessage() for r in caplog.records)


def test_the_file_keeps_the_published_api_keys(settings: Settings, redis: redis.Redis, keys: Keys,
                                               sqlite_store: Store, profile: Profile) -> None:
    """A worker started from the file while Redis is down knows the store's keys as Redis published
    them: a revoked or missing key is refused, never every check let through for want of a table."""
    seed(sqlite_store, 200)
    key = add_key(sqlite_store, "his-a", "settlement")
    revoked = add_key(sqlite_store, "his-old", "settlement")
    revoke_key(sqlite_store, "his-old")
    Syncer(redis, keys, sqlite_store, profile).full()
    with TestClient(create_app(settings)):
        path = Path(settings.var_dir) / f"snapshot-{settings.redis_prefix}.drgate"
        wait_for_file(SnapshotFile(path, settings.redis_prefix, profile.name), read_meta(redis, keys)["id"])
    with start_without_redis(settings) as client:
        assert client.post("/v1/claims/check", json=claim(1)).status_code == 401
        assert client.post("/v1/claims/check", json=claim(1), headers={"X-API-Key": revoked}).status_code == 401
        line = client.post("/v1/claims/check", json=claim(1), headers={"X-API-Key": key}).json()["lines"][0]
        assert (line["reason"], line["flags"]) == (expected_reason(1), ["stale"])


def test_a_file_of_an_older_format_is_refused(kept: Path, settings: Settings,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A format-1 file does not hold the API keys: used, it would open every check to anyone."""
    header, _, body = kept.read_bytes().partition(b"\n")
    old = orjson.loads(header)
    old["format"] = 1
    kept.write_bytes(orjson.dumps(old) + b"\n" + body)
    with caplog.at_level(logging.ERROR), start_without_redis(settings) as client:
        assert client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]["reason"] == "unverified"
    assert any(str(kept) in r.getMessage() and "format 1" in r.getMessage() for r in caplog.records)
