"""The full sync's bulk writer: a generation's buckets built as the HSET commands that write them.

At 1,000,000 physicians redis-py's per-argument packing of the same commands cost ~1.6 s.
Here each physician appends its pieces to its bucket's command as it comes from the scan
(``cache.records``), records shared by many physicians are framed once, and writing sends whole
commands on one connection, 1,024 buckets a round trip: the mass insertion of Redis's
documentation.  Which bucket a code goes in (``bucket_of``) and which records go to the overflow
hash (``overflows``) are ``cache.keys``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import redis

from cache.digest import MOD, bucket_term
from cache.keys import OVERFLOW, bucket_of, overflows

__all__ = ["PackedBuckets"]

#: Distinct records whose framing is memoised (a record shared by many physicians is one object).
FRAMES_MAX = 500_000
#: Physicians between two calls of ``add``'s ``every``.
EVERY = 4096


class PackedBuckets:
    """A generation's buckets as the HSET commands that write them, in Redis's wire protocol.

    Built while the store is read: each physician appends three pieces to its bucket, the
    length header of its code, the code, and its record framed (``\\r\\n$<len>\\r\\n<record>\\r\\n``),
    the latter shared by every physician with the same record.
    """

    __slots__ = ("parts", "overflow", "count", "buckets_term", "_frames")

    def __init__(self, nbuckets: int) -> None:
        if nbuckets & (nbuckets - 1) or nbuckets <= 0:
            raise ValueError(f"bucket count {nbuckets} is not a power of two")
        self.parts: list[list[bytes]] = [[] for _ in range(nbuckets)]
        self.overflow: dict[str, bytes] = {}  # records too long for a bucket (cache.keys.overflows), by code
        self.count = 0
        self.buckets_term = 0  # the buckets\' part of the content digest (cache.digest), summed by write()
        self._frames: dict[bytes, bytes] = {}  # record -> its framing as the bucket holds it

    def add(self, records: Iterable[tuple[str, bytes]], every: Callable[[int], None] | None = None) -> None:
        """Add physicians (code, encoded record), in code order: a bucket's fields go in that order.
        ``every`` runs with the count every ``EVERY`` physicians (the sync checks its lock there)."""
        parts, overflow, frames = self.parts, self.overflow, self._frames
        nbuckets = len(parts)
        framed_overflow = _FRAMED_OVERFLOW
        count = self.count
        for code, value in records:
            framed = frames.get(value)
            if framed is None:
                framed = framed_overflow if overflows(value) else _frame(value)
                if len(frames) < FRAMES_MAX:
                    frames[value] = framed
            if framed is framed_overflow:
                overflow[code] = value
            name = code.encode()
            parts[bucket_of(code, nbuckets)] += (_HEADERS[len(name)], name, framed)
            count += 1
            if every is not None and count % EVERY == 0:
                every(count)
        self.count = count

    def fields(self, bucket: int) -> dict[str, bytes]:
        """The bucket's fields decoded back (tests, diagnostics)."""
        framed = self.parts[bucket]
        return {framed[i + 1].decode(): _unframe(framed[i + 2]) for i in range(0, len(framed), 3)}

    def write(self, client: redis.Redis, key: Callable[[int], str], *, ttl: int, batch: int = 1024,
              between: Callable[[], None] | None = None) -> list[str]:
        """HSET every non-empty bucket ``b`` at ``key(b)`` with an EXPIRE of ``ttl`` seconds (the
        flip removes it), ``batch`` buckets a round trip; ``between`` runs after each round trip
        (the sync checks its lock there).  The keys written; ``buckets_term`` holds their digest's part."""
        pool = getattr(client, "connection_pool", None)
        if type(pool) is not redis.ConnectionPool:  # a cluster or a Sentinel-managed primary
            return self._write_pipelined(client, key, ttl=ttl, batch=batch, between=between)
        conn = pool.connection_class(**pool.connection_kwargs)  # its own socket, closed at the end
        last = len(self.parts) - 1
        seconds = str(ttl).encode()
        written: list[str] = []
        terms = 0
        try:
            pending: list[bytes] = []
            for b, framed in enumerate(self.parts):
                if framed:
                    text = key(b)
                    name = text.encode()
                    written.append(text)
                    body = b"".join(framed)  # the fields in code order, framed: what the digest hashes
                    terms += bucket_term(body)
                    pending.append(b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%b\r\n%b" % (
                        2 + len(framed) // 3 * 2, len(name), name, body))
                    pending.append(b"*3\r\n$6\r\nEXPIRE\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
                        len(name), name, len(seconds), seconds))
                if pending and (len(pending) >= batch or b == last):
                    conn.send_packed_command(pending)
                    for _ in pending:
                        conn.read_response()  # raises the server's error, if any
                    pending = []
                    if between is not None:
                        between()
        finally:
            conn.disconnect()
        self.buckets_term = terms % MOD
        return written

    def _write_pipelined(self, client: redis.Redis, key: Callable[[int], str], *, ttl: int, batch: int,
                         between: Callable[[], None] | None) -> list[str]:
        """The same writes through redis-py's pipeline: clients whose connections route themselves."""
        written: list[str] = []
        terms = 0
        pipe = client.pipeline(transaction=False)
        for b, framed in enumerate(self.parts):
            if framed:
                terms += bucket_term(b"".join(framed))
                name = key(b)
                pipe.hset(name, mapping=self.fields(b))  # type: ignore[arg-type]
                pipe.expire(name, ttl)
                written.append(name)
            if len(pipe) >= 2 * batch:
                pipe.execute()
                if between is not None:
                    between()
        pipe.execute()
        self.buckets_term = terms % MOD
        return written


#: The bulk-string length headers of codes (1-30 characters).
_HEADERS = [b"$%d\r\n" % n for n in range(256)]


def _frame(value: bytes) -> bytes:
    """The end of the code's bulk string, then the value's."""
    return b"\r\n$%d\r\n%b\r\n" % (len(value), value)


def _unframe(framed: bytes) -> bytes:
    return framed[framed.index(b"\r\n", 2) + 2 : -2]


#: What a bucket holds for a record in the overflow hash, framed.
_FRAMED_OVERFLOW = _frame(OVERFLOW)
