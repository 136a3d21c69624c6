"""The decision log's trim waits for the archive: what the group has not read stays, within the byte bound.

Real Redis (the tests' database, a prefix of the test's own) and a SQLite archive: entries are
appended while the archiver is stopped, the log's retention trims, the archiver resumes, and
every decision is archived.  Only the byte bound, the memory's, may drop unread entries; the
archiver then counts them lost, exactly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
import sqlalchemy as sa

from cache.keys import Keys
from gateway.check.core import ClaimResult, DecidedLine
from gateway.decisionlog.archiver import GROUP, Archiver
from gateway.decisionlog.backlog import ArchiveBacklog
from gateway.decisionlog.retention import Retention
from rules.store.archive.writes import Archive
from rules.store.scans import Store
from rules.store.schema import decisions
from tests.decision_log import write


def result(i: int, lines: int = 1) -> ClaimResult:
    rows = [DecidedLine(f"{i}-{k}", f"D{k:05d}", "pass", "ok", None, None, [], None) for k in range(lines)]
    return ClaimResult(f"C-{i}", "pass", f"trim-{i:08d}", {"version": 1, "published_at": None}, True, rows)


def archiver(client: redis.Redis, keys: Keys, store: Store) -> Archiver:
    return Archiver(client, keys.decisions, Archive(store.engine), block_ms=0, batch=200, claim_idle=0.2)


def archived(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one())


def batches(n: int, size: int = 250, lines: int = 1) -> list[list[ClaimResult]]:
    return [[result(i, lines) for i in range(j, min(n, j + size))] for j in range(0, n, size)]


@pytest.fixture(name="archive_store")
def fix_archive_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'archive.db'}")
    store.init()
    return store


def test_the_entry_bound_waits_for_the_stopped_archiver(redis_url: str, redis: redis.Redis, keys: Keys,
                                                        archive_store: Store) -> None:
    archiver(redis, keys, archive_store).run(once=True)  # the group exists; then the archiver stops
    write(redis_url, keys, Retention(1000, 1 << 30, 86400), batches(3000))
    assert redis.xlen(keys.decisions) == 3000  # held for the group, past the entry bound
    assert redis.hget(keys.decision_size, "held") == b"1"
    stats = archiver(redis, keys, archive_store).run(once=True)
    assert (archived(archive_store), stats.lost) == (3000, 0)
    write(redis_url, keys, Retention(1000, 1 << 30, 86400), batches(250))  # archived: the bound trims again
    assert 990 <= redis.xlen(keys.decisions) <= 1000
    assert redis.hget(keys.decision_size, "held") is None


def test_the_age_bound_waits_for_the_stopped_archiver(redis_url: str, redis: redis.Redis, keys: Keys,
                                                      archive_store: Store) -> None:
    archiver(redis, keys, archive_store).run(once=True)
    write(redis_url, keys, Retention(1_000_000, 1 << 30, 1.0), [[result(i) for i in range(50)], [], [result(50)]],
          pause=0.6)
    assert redis.xlen(keys.decisions) == 51
    stats = archiver(redis, keys, archive_store).run(once=True)
    assert (archived(archive_store), stats.lost) == (51, 0)


def test_entries_read_but_not_acknowledged_are_not_trimmed(redis_url: str, redis: redis.Redis, keys: Keys,
                                                           archive_store: Store) -> None:
    """An archiver killed after reading (its entries pending): the trim keeps them for the next one."""
    archiver(redis, keys, archive_store).run(once=True)
    write(redis_url, keys, Retention(1000, 1 << 30, 86400), batches(500))
    redis.xreadgroup(GROUP, "killed", {keys.decisions: ">"}, count=400)  # read, never acknowledged
    write(redis_url, keys, Retention(1000, 1 << 30, 86400), [[result(i) for i in range(500, 3000)]])
    time.sleep(0.3)  # past claim_idle: the next archiver claims the dead one's entries
    stats = archiver(redis, keys, archive_store).run(once=True)
    assert (archived(archive_store), stats.lost) == (3000, 0)


def test_without_an_archive_group_the_bounds_trim_as_they_are(redis_url: str, redis: redis.Redis,
                                                              keys: Keys) -> None:
    write(redis_url, keys, Retention(1000, 1 << 30, 86400), batches(3000))
    assert 990 <= redis.xlen(keys.decisions) <= 1000


def test_the_byte_bound_drops_unread_entries_and_the_archiver_counts_them(
        redis_url: str, redis: redis.Redis, keys: Keys, archive_store: Store) -> None:
    """The memory's bound binds: what it dropped unread is counted lost, exactly; the rest archived."""
    archiver(redis, keys, archive_store).run(once=True)
    write(redis_url, keys, Retention(1_000_000, 1 << 20, 86400), batches(3000, size=100, lines=20))
    assert redis.xlen(keys.decisions) < 3000
    stats = archiver(redis, keys, archive_store).run(once=True)
    assert stats.lost > 0
    assert archived(archive_store) + stats.lost == 3000
    assert archiver(redis, keys, archive_store).run(once=True).lost == 0  # taken once


def test_the_gateway_says_when_the_archiver_is_behind(redis_url: str, redis: redis.Redis, keys: Keys,
                                                      archive_store: Store) -> None:
    async def look() -> ArchiveBacklog:
        client = aioredis.Redis.from_url(redis_url)
        backlog = ArchiveBacklog(client, keys, recheck=0.0)
        await backlog.check()
        await client.aclose()
        return backlog

    assert asyncio.run(look()).warning() is None  # no archiver ever ran: nothing to say
    archiver(redis, keys, archive_store).run(once=True)
    write(redis_url, keys, Retention(100, 1 << 20, 86400), batches(3000, size=100, lines=20))
    backlog = asyncio.run(look())
    assert backlog.held and backlog.lag > 0 and backlog.trimmed > 0
    warning = backlog.warning()
    assert warning is not None and "trimmed" in warning and "behind" in warning
    archiver(redis, keys, archive_store).run(once=True)
    backlog = asyncio.run(look())
    assert (backlog.lag, backlog.trimmed, backlog.warning()) == (0, 0, None)
