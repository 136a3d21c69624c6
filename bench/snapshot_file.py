"""What the snapshot file costs: a dump (read from Redis, frame, hash, write) and a load, for a
large snapshot; and the full sync's digest (the buckets' hashing) at that size.

    python -m bench.snapshot_file [--physicians 1000000] [--redis-url redis://127.0.0.1:6379/9]

Writes a synthetic generation (one agreement a physician, as most are) under its own prefix
(``drgate-bench-file``), with the digest a sync would publish, and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis

from cache.codec import encode_institution, encode_physician
from cache.digest import bucket_term, entries_term, hexdigest
from cache.disk import SnapshotFile
from cache.keeper import SnapshotKeeper, restore
from cache.keys import Keys, bucket_count, bucket_of
from cache.snapshot_cache import SnapshotCache
from rules.model import Agreement, InstitutionRecord, PhysicianRecord

PREFIX = "drgate-bench-file"


def publish(client: redis.Redis, keys: Keys, n: int) -> float:
    """A synthetic snapshot in Redis; the seconds its digest's bucket terms took."""
    nbuckets = bucket_count(n)
    buckets: list[dict[bytes, bytes]] = [{} for _ in range(nbuckets)]
    for i in range(n):
        code = f"D330802{i:06d}" if i < 1_000_000 else f"D33080{i:07d}"
        value = encode_physician(PhysicianRecord(code, (Agreement(f"H3308020{i // 200:04d}", 737000),)))
        buckets[bucket_of(code, nbuckets)][code.encode()] = value
    # What the sync adds is the hashing only: it frames the buckets to send them anyway.
    framed = [b"".join(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(c), c, len(v), v) for c, v in sorted(f.items()))
              for f in buckets]
    started = time.perf_counter()
    terms = [bucket_term(body) for body in framed]
    hashing = time.perf_counter() - started
    institutions = {f"H3308020{j:04d}".encode(): encode_institution(InstitutionRecord(f"H3308020{j:04d}"))
                    for j in range(n // 200 + 1)}
    pipe = client.pipeline(transaction=False)
    for b, fields in enumerate(buckets):
        if fields:
            pipe.hset(keys.bucket(1, b), mapping=fields)  # type: ignore[arg-type]
        if len(pipe) >= 512:
            pipe.execute()
    pipe.hset(keys.institutions(1), mapping=institutions)  # type: ignore[arg-type]
    pipe.execute()
    digest = hexdigest((*terms, entries_term(b"px", {}), entries_term(b"i", institutions)))
    now = f"{time.time():.3f}"
    client.hset(keys.meta, mapping={"generation": 1, "version": 1, "buckets": nbuckets, "physicians": n,
                                    "published_at": "bench", "published_ts": now, "verified_ts": now,
                                    "id": "b" * 32, "generation_id": "b" * 32, "digest": digest,
                                    "profile": "quzhou-2020"})
    return hashing


def cleanup(client: redis.Redis, keys: Keys, n: int) -> None:
    names = keys.generation_keys(1, bucket_count(n))
    for i in range(0, len(names), 1000):
        client.unlink(*names[i : i + 1000])
    client.unlink(keys.meta)


async def dump_and_load(url: str, keys: Keys, n: int, folder: Path) -> tuple[float, float, int]:
    client = aioredis.Redis.from_url(url)
    cache = SnapshotCache(keys, capacity=max(n, 1000), profile="quzhou-2020")
    file = SnapshotFile(folder / "snapshot.drgate", PREFIX, "quzhou-2020")
    keeper = SnapshotKeeper(client, cache, file)
    started = time.perf_counter()
    assert await keeper.dump("b" * 32)
    dumped = time.perf_counter() - started
    await client.aclose()
    started = time.perf_counter()
    loaded = file.load()
    assert loaded is not None and restore(SnapshotCache(keys, capacity=max(n, 1000), profile="quzhou-2020"), loaded)
    return dumped, time.perf_counter() - started, file.path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--physicians", type=int, default=1_000_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    keys = Keys(PREFIX)
    client = redis.Redis.from_url(args.redis_url)
    try:
        hashing = publish(client, keys, args.physicians)
        with tempfile.TemporaryDirectory() as folder:
            dumped, loaded, size = asyncio.run(dump_and_load(args.redis_url, keys, args.physicians, Path(folder)))
    finally:
        cleanup(client, keys, args.physicians)
        client.close()
    print(f"{args.physicians} physicians: sync's digest hashing {hashing:.2f} s; snapshot file dump "
          f"(read from Redis, frame, hash, write) {dumped:.2f} s, {size / 1e6:.0f} MB; load and restore {loaded:.2f} s")


if __name__ == "__main__":
    main()
