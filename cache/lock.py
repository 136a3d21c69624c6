"""The sync lock: one sync at a time, held with an owner token and renewed by a watchdog.

``{prefix}:lock`` holds a random token with a TTL; only its owner renews (every third of the
TTL, from a thread, whatever the sync is busy with) or releases it (compare-and-delete).  A
killed sync stops renewing and its lock expires by itself.  A publication WATCHes the lock and
checks the token (``fence``): a sync whose lock expired cannot flip over the one that took it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.client import Pipeline

from cache.errors import LockLost, SyncLocked

__all__ = ["SyncLock"]

log = logging.getLogger(__name__)

# Compare-and-delete / compare-and-extend: only the owner token may release or renew the lock.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


class SyncLock:
    def __init__(self, client: redis.Redis, key: str, ttl_ms: int) -> None:
        self.redis = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = uuid.uuid4().hex
        self.held = False  # inside hold(): publish only while holding it
        self.lost = False  # set by the watchdog

    @contextmanager
    def hold(self, *, wait: float = 0.0) -> Iterator[None]:
        """Hold the lock; ``SyncLocked`` when another sync holds it past ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while not self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            if time.monotonic() >= deadline:
                holder = self.redis.pttl(self.key)
                raise SyncLocked(f"another sync holds the lock (expires in {holder} ms); try again or use --wait")
            time.sleep(0.2)
        stop = threading.Event()
        watchdog = threading.Thread(target=self._renew_until, args=(stop,), name="drgate-sync-lock", daemon=True)
        self.held, self.lost = True, False
        watchdog.start()
        try:
            yield
        finally:
            stop.set()
            watchdog.join()
            self.held = False
            try:
                self.redis.eval(_RELEASE, 1, self.key, self.token)
            except (redis.RedisError, OSError) as exc:  # it expires by itself; do not hide the real error
                log.warning("could not release the sync lock (%s); it expires in %d ms",
                            type(exc).__name__, self.ttl_ms)

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl_ms / 3000):
            try:
                renewed = self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms)
            except (redis.RedisError, OSError) as exc:
                log.warning("could not renew the sync lock (%s); retrying", type(exc).__name__)
                continue
            if not renewed:
                log.error("the sync lock expired or was taken by another sync; this sync will not publish")
                self.lost = True
                return

    def check(self) -> None:
        """``LockLost`` once the watchdog found the lock expired or taken: stop working early."""
        if self.held and self.lost:
            raise LockLost()

    def fence(self, pipe: Pipeline) -> None:
        """WATCH the lock in ``pipe`` and check that it is still ours (when held), then MULTI."""
        if self.held:
            pipe.watch(self.key)  # type: ignore[no-untyped-call]
            if pipe.get(self.key) != self.token.encode():
                raise LockLost()
            pipe.multi()
