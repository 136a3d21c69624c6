"""The generations a full sync leaves in Redis: building, live, retired (``{prefix}:gens``).

A full sync marks its generation ``building`` before writing it, ``live`` with the flip, and the
one it replaced ``retired`` (its keys expire after the grace period).  Whatever a killed sync
left, and anything older than the snapshot just replaced, is deleted by the next full sync.
"""

from __future__ import annotations

import logging
import time

import orjson
import redis

from cache.keys import Keys

__all__ = ["drop_generations", "gen_state", "mark_generation", "retire_generation"]

log = logging.getLogger(__name__)


def gen_state(state: str, buckets: int) -> bytes:
    return orjson.dumps({"state": state, "buckets": buckets, "at": time.time()})


def mark_generation(client: redis.Redis, keys: Keys, generation: int, state: str, buckets: int) -> None:
    client.hset(keys.gens, str(generation), gen_state(state, buckets))


def retire_generation(client: redis.Redis, keys: Keys, old_meta: dict[str, str], grace_seconds: int) -> None:
    """Let the replaced generation expire after the grace period."""
    if "generation" not in old_meta:
        return
    old, buckets = int(old_meta["generation"]), int(old_meta["buckets"])
    pipe = client.pipeline(transaction=False)
    for key in keys.generation_keys(old, buckets):
        pipe.expire(key, grace_seconds)
    pipe.hset(keys.gens, str(old), gen_state("retired", buckets))
    pipe.execute()


def drop_generations(client: redis.Redis, keys: Keys, keep: set[int], states: tuple[str, ...],
                     only: int | None = None) -> None:
    """Delete the generations in ``states`` except those in ``keep`` (or just ``only``): killed
    builds, old snapshots, a build the shrink guard refused."""
    found: dict[bytes, bytes] = client.hgetall(keys.gens)  # type: ignore[assignment]
    for gen_raw, state_raw in found.items():
        gen = int(gen_raw)
        state = orjson.loads(state_raw)
        if gen in keep or state["state"] not in states or (only is not None and gen != only):
            continue
        names = keys.generation_keys(gen, int(state["buckets"]))
        for i in range(0, len(names), 1000):
            client.unlink(*names[i : i + 1000])
        client.hdel(keys.gens, gen_raw)
        log.info("removed generation %d (%s)", gen, state["state"])
