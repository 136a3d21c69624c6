"""The sync's guards: shrink guard (exit 4), one sync at a time (exit 3), lock fencing, build TTL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from cache.errors import LockLost, ShrinkRefused, SyncLocked
from cache.keys import BUILD_TTL_SECONDS, Keys
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.cli.main import EXIT_LOCKED, EXIT_OK, EXIT_SHRINK, main
from rules.profiles import Profile
from rules.store import schema
from rules.store.scans import _CHANGES_LOCK, Store
from rules.store.seed import physician_code, seed

N = 400


@pytest.fixture(name="seeded")
def fix_seeded(sqlite_store: Store) -> Store:
    seed(sqlite_store, N)
    return sqlite_store


@pytest.fixture(name="cli_env")
def fix_cli_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str, seeded: Store) -> None:
    monkeypatch.setenv("DRGATE_REDIS_URL", redis_url)
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", seeded.url)


def drop_physicians(store: Store, how_many: int) -> None:
    codes = [physician_code(i) for i in range(N - how_many, N)]
    with store.engine.begin() as conn:
        conn.execute(schema.agreements.delete().where(schema.agreements.c.physician_code.in_(codes)))
        conn.execute(schema.physicians.delete().where(schema.physicians.c.code.in_(codes)))


def generation_keys(client: redis.Redis, keys: Keys) -> set[int]:
    """Generations that still have keys in Redis."""
    found = set()
    for key in client.scan_iter(match=f"{keys.tag}:g[0-9]*", count=1000):
        found.add(int(key.decode().split(":")[1][1:]))
    return found


def test_full_sync_that_loses_more_than_the_share_publishes_nothing(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile, max_shrink=0.05)
    syncer.full()
    before = read_meta(redis, keys)
    drop_physicians(seeded, 21)  # 5.25% of 400
    with pytest.raises(ShrinkRefused) as refused:
        syncer.full()
    assert (refused.value.current, refused.value.new) == (N, N - 21)
    assert read_meta(redis, keys) == before
    assert generation_keys(redis, keys) == {int(before["generation"])}


def test_full_sync_within_the_share_publishes(redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile) -> None:
    syncer = Syncer(redis, keys, seeded, profile, max_shrink=0.05)
    syncer.full()
    drop_physicians(seeded, 19)  # under 5%, of the physicians and of those in agreement
    assert syncer.full().physicians == N - 19


def test_allow_shrink_publishes_the_smaller_snapshot(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    drop_physicians(seeded, 200)
    assert syncer.full(allow_shrink=True).physicians == N - 200
    assert read_meta(redis, keys)["physicians"] == str(N - 200)


def test_an_export_that_lost_its_agreements_is_refused(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    """Every physician still there, but without agreements every line would be `no_agreement`."""
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    with seeded.engine.begin() as conn:
        conn.execute(schema.agreements.delete())
    with pytest.raises(ShrinkRefused) as refused:
        syncer.full()
    assert refused.value.what == "agreements in force today"


def test_incremental_sync_that_deletes_many_is_refused(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    drop_physicians(seeded, 40)
    with seeded.engine.begin() as conn:
        seeded.record_changes(conn, [physician_code(i) for i in range(N - 40, N)], [])
    with pytest.raises(ShrinkRefused):
        syncer.incremental()
    assert syncer.incremental(allow_shrink=True).physicians == N - 40


def test_cli_exits_4_on_the_shrink_guard_and_publishes_with_allow_shrink(
    cli_env: None, redis: redis.Redis, keys: Keys, seeded: Store
) -> None:
    assert main(["sync", "--full"]) == EXIT_OK
    drop_physicians(seeded, 100)
    assert main(["sync", "--full"]) == EXIT_SHRINK
    assert read_meta(redis, keys)["physicians"] == str(N)
    assert main(["sync", "--full", "--allow-shrink"]) == EXIT_OK
    assert read_meta(redis, keys)["physicians"] == str(N - 100)


def test_second_sync_exits_3_while_the_first_holds_the_lock(
    cli_env: None, redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    holder = Syncer(redis, keys, seeded, profile)
    with holder.lock():
        assert main(["sync", "--full"]) == EXIT_LOCKED
    assert main(["sync", "--full"]) == EXIT_OK


def test_a_crashed_holders_lock_expires_and_wait_takes_it(
    cli_env: None, redis: redis.Redis, keys: Keys
) -> None:
    redis.set(keys.lock, "token-of-a-killed-sync", px=500)  # the holder died; its TTL runs out
    assert main(["sync", "--full", "--wait", "30"]) == EXIT_OK
    assert redis.get(keys.lock) is None  # released by its owner


def test_only_the_owner_releases_the_lock(redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile) -> None:
    syncer = Syncer(redis, keys, seeded, profile, lock_ttl_ms=60_000)
    with syncer.lock():
        redis.set(keys.lock, "another-sync")  # ours expired and another sync took it
    assert redis.get(keys.lock) == b"another-sync"


def test_lock_is_renewed_while_the_sync_works(redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile) -> None:
    syncer = Syncer(redis, keys, seeded, profile, lock_ttl_ms=300)
    with syncer.lock():
        time.sleep(1.0)  # three TTLs of a long SQL read
        assert redis.get(keys.lock) == syncer._lock.token.encode()
        syncer._keep_lock()
    assert redis.get(keys.lock) is None


def test_a_sync_stops_early_once_its_lock_is_taken(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile, lock_ttl_ms=300)
    with pytest.raises(LockLost), syncer.lock():
        redis.set(keys.lock, "a-later-sync")
        time.sleep(0.5)  # the watchdog's next renewal finds it
        syncer._keep_lock()


def test_a_held_lock_refuses_a_second_holder(redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile) -> None:
    redis.set(keys.lock, "another-sync", px=60_000)
    with pytest.raises(SyncLocked), Syncer(redis, keys, seeded, profile).lock():
        pass


def test_a_sync_that_lost_its_lock_does_not_flip(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    before = read_meta(redis, keys)
    with pytest.raises(LockLost), syncer.lock():
        redis.set(keys.lock, "a-later-sync")  # ours expired during a stall and another took it
        syncer.full()
    assert read_meta(redis, keys) == before
    building = generation_keys(redis, keys) - {int(before["generation"])}
    assert len(building) == 1  # the unpublished build, left to expire
    for key in redis.scan_iter(match=f"{keys.tag}:g{building.pop()}:*"):
        assert 0 < redis.ttl(key) <= BUILD_TTL_SECONDS


def test_published_keys_do_not_expire_and_the_replaced_snapshot_does(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile, grace_seconds=60)
    first = syncer.full()
    second = syncer.full()
    for key in redis.scan_iter(match=f"{keys.tag}:g{second.generation}:*"):
        assert redis.ttl(key) == -1
    for key in redis.scan_iter(match=f"{keys.tag}:g{first.generation}:*"):
        assert 0 < redis.ttl(key) <= 60


def test_after_a_full_sync_only_the_live_and_the_replaced_snapshot_remain(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile, grace_seconds=60)
    results = [syncer.full() for _ in range(4)]
    assert generation_keys(redis, keys) == {results[-1].generation, results[-2].generation}
    assert {int(g) for g in redis.hkeys(keys.gens)} == {results[-1].generation, results[-2].generation}


def test_a_killed_build_is_removed_by_the_next_sync(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile, tmp_path: Path
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    live = syncer.full().generation
    with pytest.raises(LockLost), syncer.lock():
        redis.set(keys.lock, "a-later-sync")
        syncer.full()
    redis.delete(keys.lock)
    newest = syncer.full().generation
    assert generation_keys(redis, keys) == {live, newest}


def test_a_writer_of_the_change_log_holds_the_advisory_lock_until_commit(store: Store) -> None:
    """The watermark relies on seq order being commit order: PostgreSQL writers take turns."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    with store.engine.begin() as conn:
        store.record_changes(conn, ["D1"], ["H1"])
        with store.engine.connect() as other:
            taken = other.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _CHANGES_LOCK}).scalar()
            other.rollback()
        assert taken is False
    with store.engine.connect() as other:
        assert other.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _CHANGES_LOCK}).scalar()
