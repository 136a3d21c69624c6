"""A publication's identity: a random id that cannot repeat, and the digest of its content.

Every publication, full or incremental, gets a new ``id`` (128 random bits, hex) in ``meta``;
``generation_id`` is the id of the full sync that wrote the generation's keys, kept by the
incremental syncs that patch them.  Readers compare these, never ``generation`` or ``version``:
those are counters in the Redis that may lose them (restarted empty, a full sync publishes
generation 1 / version 1 again), and a worker comparing counters would keep its old copy.

The digest (``cache.digest``) of an incremental publication is derived from the published one:
the terms of what the change rewrites, read before the transaction, out; their new terms in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import redis

from cache.digest import MOD, entry_term, fields_term
from cache.keys import Keys, bucket_of, bucket_value, overflows

__all__ = ["incremental_digest", "new_id"]


def new_id() -> str:
    """A publication id: uuid4, 122 random bits, as 32 hex digits."""
    return uuid.uuid4().hex


def incremental_digest(client: redis.Redis, keys: Keys, generation: int, nbuckets: int, digest: str,
                       physicians: Mapping[str, bytes | None], institutions: Mapping[str, bytes | None]) -> str:
    """The digest once ``physicians`` and ``institutions`` (code -> new encoded record, None: gone)
    replace theirs in the published generation.  Reads the buckets they fall in, and their old
    overflow and institution records: run it under the sync lock, before the transaction."""
    touched: dict[int, list[str]] = {}
    for code in physicians:
        touched.setdefault(bucket_of(code, nbuckets), []).append(code)
    codes, inst_codes = list(physicians), list(institutions)
    with client.pipeline(transaction=False) as pipe:
        for b in touched:
            pipe.hgetall(keys.bucket(generation, b))
        if codes:
            pipe.hmget(keys.overflow(generation), codes)
        if inst_codes:
            pipe.hmget(keys.institutions(generation), inst_codes)
        replies = pipe.execute()
    buckets, rest = replies[: len(touched)], iter(replies[len(touched) :])
    old_overflow = next(rest) if codes else []
    old_institutions = next(rest) if inst_codes else []
    total = int(digest, 16)
    for in_bucket, fields in zip(touched.values(), buckets, strict=True):
        total -= fields_term(fields)
        for code in in_bucket:
            name, value = code.encode(), physicians[code]
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = bucket_value(value)
        total += fields_term(fields)
    for code, old in zip(codes, old_overflow, strict=True):
        value = physicians[code]
        if old is not None:
            total -= entry_term(b"px", code.encode(), old)
        if value is not None and overflows(value):
            total += entry_term(b"px", code.encode(), value)
    for code, old in zip(inst_codes, old_institutions, strict=True):
        if old is not None:
            total -= entry_term(b"i", code.encode(), old)
        new = institutions[code]
        if new is not None:
            total += entry_term(b"i", code.encode(), new)
    return f"{total % MOD:032x}"
