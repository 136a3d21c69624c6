"""Decision log: every decision has a decision_id and one Redis Stream entry, none dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.check.core import ClaimResult, DecidedLine
from gateway.decisionlog.retention import Retention
from gateway.decisionlog.thread_writer import BlockingDecisionLog
from gateway.decisionlog.writer import DecisionLog
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import home_institution, institution_code, physician_code, seed
from tests.fault_servers import RedisServer


@pytest.fixture(name="seeded")
def fix_seeded(settings: Settings, redis: redis.Redis, keys: Keys, profile: Profile) -> Settings:
    store = Store(settings.store_url_value())
    seed(store, 300)
    Syncer(redis, keys, store, profile).full()
    store.dispose()
    return settings


def claim(n: int) -> dict[str, Any]:
    lines = [{"line_id": f"{n}-{k}", "physician_code": physician_code((n + k) % 320)} for k in range(1 + n % 5)]
    return {"claim_id": f"C-{n}", "institution_code": institution_code(home_institution(n % 300)),
            "service_date": "2026-03-02", "lines": lines}


def entries(client: redis.Redis, keys: Keys) -> list[dict[str, Any]]:
    return [orjson.loads(fields[b"d"]) for _, fields in client.xrange(keys.decisions)]


def test_n_checks_leave_n_entries(seeded: Settings, redis: redis.Redis, keys: Keys) -> None:
    n = 600
    answers = []
    with TestClient(create_app(seeded)) as client:
        for i in range(n):
            r = client.post("/v1/claims/check", json=claim(i))
            assert r.status_code == 200
            answers.append(r.json())
        metrics = client.get("/metrics").text
    logged = entries(redis, keys)
    assert len(logged) == n
    assert [e["id"] for e in logged] == [a["decision_id"] for a in answers]
    assert len({a["decision_id"] for a in answers}) == n
    first, answer = logged[0], answers[0]
    assert (first["claim"], first["decision"], first["version"], first["enforced"]) == (
        answer["claim_id"], answer["decision"], answer["snapshot"]["version"], True)
    assert [row[:9] for row in first["lines"]] == [
        [line["line_id"], line["physician_code"], line["decision"], line["reason"], line["basis"], line["until"],
         line["ban_until"], line["flags"], line["would_reject"]] for line in answer["lines"]]
    assert "drgate_decision_log_dropped_total 0.0" in metrics


def test_entries_carry_no_personal_data(seeded: Settings, redis: redis.Redis, keys: Keys) -> None:
    with TestClient(create_app(seeded)) as client:
        client.post("/v1/claims/check", json=claim(7))
    (entry,) = entries(redis, keys)
    assert set(entry) == {"v", "kind", "id", "at", "front", "caller", "claim", "mdtrt", "inst", "days", "decision",
                          "enforced", "fail", "profile", "snapshot", "generation", "version", "lines", "grounds"}
    assert "医师" not in orjson.dumps(entry).decode()  # codes, never the seeded physicians' names


def result(i: int) -> ClaimResult:
    return ClaimResult(f"C-{i}", "pass", f"id-{i}", {"version": 1, "published_at": None}, True,
                       [DecidedLine("1", physician_code(i), "pass", "ok", None, None, [], None)])


def test_entries_wait_through_a_redis_outage_and_are_all_written(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()

    async def scenario() -> tuple[int, int, int]:
        client = aioredis.Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        log = DecisionLog(client, Keys("log-test"), Retention(10_000, 1 << 30, 86400), flush_interval=0.02)
        await log.start()
        for i in range(100):
            log.append(result(i))
        while log.pending:
            await asyncio.sleep(0.01)
        server.kill()
        for i in range(100, 300):
            log.append(result(i))
        await asyncio.sleep(0.3)  # the writer tries, fails, keeps them
        waiting = log.pending
        server.start()
        while log.pending:
            await asyncio.sleep(0.02)
        await log.stop()
        count = await client.xlen("{log-test}:decisions")
        await client.aclose()
        return waiting, count, log.dropped

    try:
        waiting, count, dropped = asyncio.run(scenario())
    finally:
        server.stop()
    assert waiting == 200
    assert (count, dropped) == (300, 0)


def test_a_full_buffer_drops_new_entries_and_counts_them(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        client = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.1)  # nothing listens
        log = DecisionLog(client, Keys("log-test"), Retention(10_000, 1 << 30, 86400), buffer=10)
        for i in range(15):
            log.append(result(i))
        await log.flush()
        await client.aclose()
        return log.pending, log.dropped

    assert asyncio.run(scenario()) == (10, 5)


@pytest.mark.parametrize("writer", ["async", "thread"])
def test_both_writers_write_at_most_a_megabyte_a_script_call(writer: str, redis: redis.Redis, keys: Keys,
                                                             redis_url: str) -> None:
    """Three 700 KB entries: three calls, so that one call never holds a shared Redis long."""
    big = [orjson.dumps({"kind": "decision", "id": f"big-{i}", "at": 0, "pad": "x" * 700_000}) for i in range(3)]
    calls: list[int] = []

    def counted(script: Any) -> Any:
        def call(*, keys: list[str], args: list[Any]) -> Any:
            calls.append(len(args) - len(retention.args()))
            return script(keys=keys, args=args)
        return call

    retention = Retention(10_000, 1 << 30, 86400)
    if writer == "thread":
        blocking = BlockingDecisionLog(redis, keys, retention)
        blocking._append = counted(blocking._append)  # type: ignore[method-assign]
        blocking._pending.extend(big)
        blocking.flush()
        written = blocking.written
    else:
        async def run() -> int:
            client = aioredis.Redis.from_url(redis_url)
            log = DecisionLog(client, keys, retention)
            write = log._write  # the script call, packed by the writer

            async def counted_write(chunk: list[bytes]) -> None:
                calls.append(len(chunk))
                await write(chunk)

            log._write = counted_write  # type: ignore[method-assign]
            log._pending.extend(big)
            await log.flush()
            await client.aclose()
            return log.written
        written = asyncio.run(run())
    assert (calls, written, redis.xlen(keys.decisions)) == ([1, 1, 1], 3, 3)


def test_the_writer_loads_the_script_again_when_redis_has_lost_it(tmp_path: Path, keys: Keys) -> None:
    """A restarted Redis has no scripts: the packed EVALSHA is refused NOSCRIPT and the batch goes
    through the script object, which loads it; nothing is lost or written twice."""
    entries = [orjson.dumps({"kind": "decision", "id": f"e-{i}", "at": i}) for i in range(6)]
    server = RedisServer(tmp_path / "redis")
    server.start()

    async def run() -> int:
        client = aioredis.Redis.from_url(server.url)
        log = DecisionLog(client, keys, Retention(10_000, 1 << 30, 86400))
        log._pending.extend(entries[:3])
        await log.flush()
        server.kill()
        server.start()  # the stream is back from the append-only file, the script is not
        log._pending.extend(entries[3:])
        await log.flush()
        if log.pending:  # the pool's connection died with the first server: the next flush reconnects
            await log.flush()
        await client.aclose()
        return log.written

    try:
        assert asyncio.run(run()) == 6
        check = redis.Redis.from_url(server.url)
        assert [orjson.loads(fields[b"d"])["id"] for _, fields in check.xrange(keys.decisions)] == \
            [f"e-{i}" for i in range(6)]
        check.close()
    finally:
        server.stop()
