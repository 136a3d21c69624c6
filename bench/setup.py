"""The benchmark's data: a seeded SQLite store published under its own Redis prefix, the naive
design's one-key-per-physician copy, and a PostgreSQL database for the SQL design.

Nothing outside the bench's own prefix (``drgate-bench``) and database (``drgate_bench``) is
touched, and ``cleanup`` removes both.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis
import sqlalchemy as sa

from cache.keys import Keys
from cache.sync import Syncer
from rules.profiles import load_profile
from rules.store.scans import Store
from rules.store.seed import seed

__all__ = ["cleanup", "naive_institutions_key", "naive_key", "prepare_postgres", "prepare_redis"]

log = logging.getLogger(__name__)
PG_DATABASE = "drgate_bench"


def naive_key(prefix: str, code: str) -> str:
    """The naive design's key of one physician (a bench artifact, not drgate's layout)."""
    return f"{prefix}:naive:p:{code}"


def naive_institutions_key(prefix: str) -> str:
    return f"{prefix}:naive:i"


def _seeded(store: Store, physicians: int) -> bool:
    try:
        return store.count_physicians() == physicians
    except sa.exc.SQLAlchemyError:
        return False


def prepare_redis(client: redis.Redis, prefix: str, store_path: Path, physicians: int) -> dict[str, float]:
    """Seed the SQLite store (unless already seeded), publish it, copy it for the naive design."""
    timings: dict[str, float] = {}
    store = Store(f"sqlite:///{store_path}")
    if not _seeded(store, physicians):
        started = time.perf_counter()
        seed(store, physicians)
        timings["seed_s"] = time.perf_counter() - started
    keys = Keys(prefix)
    syncer = Syncer(client, keys, store, load_profile("quzhou-2020"))
    with syncer.lock(wait=30):
        timings["sync_full_s"] = syncer.full(allow_shrink=True).seconds
    store.dispose()
    meta = {k.decode(): v.decode() for k, v in client.hgetall(keys.meta).items()}  # type: ignore[union-attr]
    generation, buckets = int(meta["generation"]), int(meta["buckets"])
    overflow = client.hgetall(keys.overflow(generation))
    copy = client.pipeline(transaction=False)
    for b in range(buckets):
        for code, raw in client.hgetall(keys.bucket(generation, b)).items():  # type: ignore[union-attr]
            copy.set(naive_key(prefix, code.decode()), overflow[code] if raw == b"~" else raw)  # type: ignore[index]
        if b % 256 == 255:
            copy.execute()
    copy.delete(naive_institutions_key(prefix))
    institutions = client.hgetall(keys.institutions(generation))
    if institutions:
        copy.hset(naive_institutions_key(prefix), mapping=institutions)  # type: ignore[arg-type]
    copy.execute()
    return timings


def prepare_postgres(admin_url: str, physicians: int) -> str:
    """Create and seed the bench database (unless seeded); returns its SQLAlchemy URL."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": PG_DATABASE}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    url = sa.make_url(admin_url).set(database=PG_DATABASE).render_as_string(hide_password=False)
    store = Store(url)
    if not _seeded(store, physicians):
        seed(store, physicians)
        with store.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
    store.dispose()
    return url


def cleanup(client: redis.Redis, prefix: str, admin_url: str | None) -> None:
    """Remove the bench's keys and database."""
    for pattern in (f"{Keys(prefix).tag}*", f"{prefix}:naive:*"):
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    if admin_url:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        admin.dispose()


def drgate_env(redis_url: str, prefix: str, store_path: Path) -> dict[str, str]:
    """The settings a bench's drgate runs with: the bench's Redis and prefix, its store, never stale."""
    return {"DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": prefix, "DRGATE_STORE_URL": f"sqlite:///{store_path}",
            "DRGATE_STALE_AFTER": "1e9"}
