"""The archiver under faults: SIGKILLed, Redis killed and restarted with its data, two at once.

Every case writes N decisions to the log of a redis-server of the test's own (append-only file,
fsync always) and ends with exactly N archived decisions and their lines: none lost, none twice,
every day's chain intact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import redis
import sqlalchemy as sa

from cache.keys import Keys
from gateway.check.core import ClaimResult, DecidedLine
from gateway.decisionlog.entries import decision_entry
from rules.store.archive.reads import ArchiveReader
from rules.store.scans import Store
from rules.store.schema import decisions
from tests.fault_servers import RedisServer

PREFIX = "archive-faults"
STREAM = Keys(PREFIX).decisions


@pytest.fixture(name="server")
def fix_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def write(server: RedisServer, start: int, n: int) -> None:
    client = redis.Redis.from_url(server.url)
    pipe = client.pipeline(transaction=False)
    for i in range(start, start + n):
        lines = [DecidedLine(f"{i}-{k}", f"D{k:05d}", "pass", "ok", None, None, [], None) for k in range(1 + i % 3)]
        result = ClaimResult(f"C-{i}", "pass", f"d-{i:08d}", {"version": 1, "published_at": None}, True, lines)
        pipe.xadd(STREAM, {"d": decision_entry(time.time(), result, "v1", None)})
    pipe.execute()
    client.close()


def lines_of(n: int) -> int:
    return sum(1 + i % 3 for i in range(n))


Start = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture(name="start")
def fix_start() -> Iterator[Start]:
    """``start(server, store, *extra)``: an archiver process.  Any still running at the test's end
    (it failed before stopping them) is killed and reaped, its pipe closed: left, it would retry
    the test's stopped Redis for ever, and its pipe's collection would fail a later test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(server: RedisServer, store: Store, *extra: str) -> subprocess.Popen[bytes]:
        started.append(archiver(server, store, *extra))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def archiver(server: RedisServer, store: Store, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DRGATE_REDIS_URL": server.url, "DRGATE_REDIS_PREFIX": PREFIX, "DRGATE_STORE_URL": store.url}
    return subprocess.Popen(
        [sys.executable, "-c", "from gateway.cli.main import main; raise SystemExit(main())", "decisions", "archive",
         "--batch", "50", "--claim-idle", "0.5", *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def archived(store: Store) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one()
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(decisions.c.decision_id)))).scalar_one()
        lines = sum(len(orjson.loads(packed)) for packed in conn.execute(sa.select(decisions.c.lines)).scalars())
    return n, distinct, lines


def wait_for(store: Store, at_least: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while archived(store)[0] < at_least:
        assert time.monotonic() < deadline, f"archived {archived(store)[0]} of {at_least}"
        time.sleep(0.05)


def reading(server: RedisServer) -> int:
    """Connections whose last command was ``XREADGROUP``: archivers in their loop (an archiver
    becomes a consumer of the group only once it reads an entry, so the group cannot say)."""
    client = redis.Redis.from_url(server.url)
    try:
        return sum(1 for c in client.client_list() if c["cmd"] == "xreadgroup")
    finally:
        client.close()


def wait_running(server: RedisServer, processes: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    """Until every archiver reads the log, so is past its start: it handles SIGTERM (the command
    sets its handler before it archives), and it reads beside the others.  A loaded machine
    starts an interpreter in seconds, while one archiver alone archives a test's entries in about
    one: a SIGTERM sent before the handler kills it (exit -15), and the test would not test two."""
    deadline = time.monotonic() + timeout
    while reading(server) < len(processes):
        for process in processes:
            assert process.poll() is None, f"an archiver exited {process.returncode}"
        assert time.monotonic() < deadline, f"{reading(server)} of {len(processes)} archivers reading"
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, f"exit {process.returncode}: {err.decode(errors='replace')}"


def assert_exactly(store: Store, n: int) -> None:
    assert archived(store) == (n, n, lines_of(n))
    result = ArchiveReader(store.engine).verify()
    assert result.mismatch is None and result.decisions == n


@pytest.mark.slow
def test_an_archiver_killed_mid_run_loses_and_doubles_nothing(server: RedisServer, sqlite_store: Store,
                                                               start: Start) -> None:
    n = 3000
    write(server, 0, n)
    first = start(server, sqlite_store)
    wait_for(sqlite_store, 200)
    first.send_signal(signal.SIGKILL)  # between a commit and its XACK, or mid-transaction: either way
    first.wait(timeout=10)
    time.sleep(0.6)  # its pending entries pass --claim-idle
    second = start(server, sqlite_store, "--once")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode(errors="replace")
    assert_exactly(sqlite_store, n)


@pytest.mark.slow
def test_a_redis_killed_and_restarted_with_its_data_loses_nothing(server: RedisServer, sqlite_store: Store,
                                                                  start: Start) -> None:
    process = start(server, sqlite_store)
    write(server, 0, 1000)
    wait_for(sqlite_store, 100)
    server.kill()
    time.sleep(0.5)  # the archiver fails, backs off, retries
    server.start()
    write(server, 1000, 1000)
    wait_for(sqlite_store, 2000)
    stop(process)
    assert_exactly(sqlite_store, 2000)


@pytest.mark.slow
def test_two_archivers_at_once_archive_each_decision_once(server: RedisServer, store: Store, start: Start) -> None:
    n = 3000
    both = [start(server, store), start(server, store)]
    wait_running(server, both)  # both wait for entries: they share them out, each may claim the other's
    write(server, 0, n)
    wait_for(store, n)
    for process in both:
        stop(process)
    assert_exactly(store, n)
