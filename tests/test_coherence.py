"""Two gateway workers follow a sync: a published change reaches both within a second.

Each worker is its own uvicorn process on a loopback port, on this test's key prefix.  The bound
is on propagation (the sync's message, or the meta poll every ``poll_interval``), not on speed.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from cache.keys import Keys
from cache.sync import Syncer
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store

pytestmark = pytest.mark.slow

SITE = "H33080200001"
DOCTOR = "D330802000001"
PROPAGATION_BOUND = 1.0 + 0.5  # 1 s, plus slack for a loaded test machine


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        conn.close()


def _reason(port: int, code: str = DOCTOR) -> str:
    claim = {"claim_id": "C-1", "institution_code": SITE, "service_date": "2026-03-02",
             "lines": [{"line_id": "1", "physician_code": code}]}
    status, answer = _call(port, "POST", "/v1/claims/check", orjson.dumps(claim))
    assert status == 200, answer
    return str(answer["lines"][0]["reason"])


@pytest.fixture(name="published")
def fix_published(redis: redis.Redis, keys: Keys, sqlite_store: Store, profile: Profile, write_jsonl: Any) -> Syncer:
    rows: list[dict[str, Any] | str] = [{"kind": "institution", "code": SITE, "name": "医院", "region": "330802"}]
    for n in range(1, 200):
        rows.append({"kind": "physician", "code": f"D330802{n:06d}", "name": f"医师{n}"})
        rows.append({"kind": "agreement", "physician_code": f"D330802{n:06d}", "institution_code": SITE,
                     "start": "2021-01-01", "end": None})
    import_files(sqlite_store, profile, [write_jsonl(rows)])
    syncer = Syncer(redis, keys, sqlite_store, profile, grace_seconds=5)
    syncer.full()
    return syncer


@pytest.fixture(name="workers")
def fix_workers(published: Syncer, redis_url: str, prefix: str, tmp_path: Path) -> Iterator[list[int]]:
    env = {**os.environ, "DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": prefix,
           "DRGATE_STORE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "DRGATE_POLL_INTERVAL": "0.5"}
    ports = [_port(), _port()]
    procs = [subprocess.Popen([sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                              env=env, start_new_session=True) for port in ports]
    try:
        deadline = time.monotonic() + 30
        for port in ports:
            while True:
                try:
                    status, ready = _call(port, "GET", "/readyz")
                    if status == 200 and ready["snapshot"]["complete"]:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "a worker did not get ready"
                time.sleep(0.1)
        yield ports
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=10)


def _until_both(ports: list[int], reason: str, code: str = DOCTOR) -> float:
    started = time.monotonic()
    pending = set(ports)
    while pending and time.monotonic() - started < 10:
        pending = {port for port in pending if _reason(port, code) != reason}
        time.sleep(0.02)
    assert not pending, f"workers {sorted(pending)} still do not answer {reason}"
    return time.monotonic() - started


def test_workers_hold_the_whole_snapshot_and_answer_unknown_codes_themselves(workers: list[int]) -> None:
    for port in workers:
        status, ready = _call(port, "GET", "/readyz")
        assert ready["snapshot"]["complete"] is True
        assert ready["snapshot"]["cached"] == 199
        assert _reason(port, "D330802999999") == "unknown_physician"
        assert _reason(port) == "ok"


def test_an_incremental_sync_reaches_both_workers_within_a_second(
    workers: list[int], published: Syncer, write_jsonl: Any
) -> None:
    import_files(published.store, published.profile, [write_jsonl([
        {"kind": "sanction", "id": "S-1", "physician_code": DOCTOR, "action": "suspend", "start": "2026-01-01",
         "end": None, "basis": "决定书-1"}])])
    published.incremental()
    assert _until_both(workers, "suspended") <= PROPAGATION_BOUND
    for port in workers:  # the change was swapped in: the worker still needs no round trip
        assert _call(port, "GET", "/readyz")[1]["snapshot"]["complete"] is True


def test_a_full_sync_reaches_both_workers_within_a_second(
    workers: list[int], published: Syncer, write_jsonl: Any
) -> None:
    import_files(published.store, published.profile, [write_jsonl([
        {"kind": "credit", "physician_code": DOCTOR, "level": "D", "effective_from": "2026-01-01"}])])
    published.full()
    assert _until_both(workers, "disqualified") <= PROPAGATION_BOUND


def test_a_physician_new_to_the_store_is_known_after_an_incremental_sync(
    workers: list[int], published: Syncer, write_jsonl: Any
) -> None:
    newcomer = "D330802000500"
    assert _reason(workers[0], newcomer) == "unknown_physician"
    import_files(published.store, published.profile, [write_jsonl([
        {"kind": "physician", "code": newcomer, "name": "新医师"},
        {"kind": "agreement", "physician_code": newcomer, "institution_code": SITE, "start": "2021-01-01",
         "end": None}])])
    published.incremental()
    assert _until_both(workers, "ok", newcomer) <= PROPAGATION_BOUND
