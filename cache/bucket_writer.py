"""The full sync's read of the whole store: every physician's encoded record, in one pass.

At 1,000,000 physicians the per-physician path (a ``PhysicianFacts``, an engine run, a
``PhysicianRecord``, an encoding, redis-py packing each field) took 74 s.  Here:

- the sparse tables (violations, sanctions, restorations, credits) are read first; the engine
  (``rules.engine.physician_record``) runs one by one only for the physicians with violations,
  sanctions or restorations;
- every physician's agreements come from one ordered scan of ``physicians LEFT JOIN agreements``
  on the raw DBAPI cursor (a server-side cursor on PostgreSQL), no SQLAlchemy row processing;
- any other physician's record depends only on the agreements (and credits, if any), and most
  share a shape (one open-ended agreement at an institution from a common day): the encoded
  bytes are memoised per shape, so the common physician costs a dict lookup;
- the buckets are built as ready-to-send HSET commands (``PackedBuckets``);
- the shrink guard's counts (``cache.tally``) come from the same records: a shape's steps once,
  then a counter of the physicians that share it.

The bytes are exactly ``encode_physician`` of the engine's record: ``tests/test_bucket_writer.py``
compares the two paths physician by physician, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any
from zlib import crc32

import redis
import sqlalchemy as sa

from cache.codec import encode_physician
from cache.digest import MOD, bucket_term
from cache.keys import LISTPACK_VALUE_MAX, OVERFLOW
from cache.tally import Step, Tally, physician_steps
from rules.calendar import WorkingCalendar
from rules.engine import physician_record
from rules.model import OPEN_END, Agreement, PhysicianFacts
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.schema import agreements, physicians

__all__ = ["PackedBuckets", "build_buckets"]

log = logging.getLogger(__name__)

#: Rows a fetch from the cursor returns (a server-side cursor's round trip on PostgreSQL).
FETCH_ROWS = 20_000
#: Distinct agreement shapes whose encoding is memoised; past it, records are encoded each time.
SHAPES_MAX = 500_000

class PackedBuckets:
    """A generation's buckets as the HSET commands that write them, in Redis's wire protocol.

    Built while the store is read: each physician appends three pieces to its bucket, the
    length header of its code, the code, and its record framed (``\\r\\n$<len>\\r\\n<record>\\r\\n``),
    the latter shared by every physician of a shape.  Writing sends whole commands on one
    connection, many a round trip: the mass insertion of Redis's documentation.  redis-py's
    per-argument packing of the same commands cost ~1.6 s at 1,000,000.
    """

    __slots__ = ("parts", "overflow", "count", "tally", "buckets_term")

    def __init__(self, nbuckets: int) -> None:
        self.parts: list[list[bytes]] = [[] for _ in range(nbuckets)]
        self.overflow: dict[str, bytes] = {}  # records over LISTPACK_VALUE_MAX, by code
        self.count = 0
        self.tally = Tally()  # the shrink guard's counts
        self.buckets_term = 0  # the buckets\' part of the content digest (cache.digest), summed by write()

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


def build_buckets(store: Store, profile: Profile, calendar: WorkingCalendar | None, nbuckets: int,
                  progress: Callable[[int], None] | None = None, *,
                  between: Callable[[], None] | None = None) -> PackedBuckets:
    """Every physician's record, by bucket, ready to write (one loop: ~2 µs a physician)."""
    packed = PackedBuckets(nbuckets)
    parts, overflow = packed.parts, packed.overflow
    mask = nbuckets - 1  # bucket_of inlined (crc32 & mask): nbuckets is a power of two
    if nbuckets & mask:
        raise ValueError(f"bucket count {nbuckets} is not a power of two")
    framed_overflow = _frame(OVERFLOW)
    headers = [b"$%d\r\n" % n for n in range(256)]  # codes are 1-30 characters
    days = _Days()
    shapes: dict[Any, tuple[bytes, bytes, int]] = {}  # shape -> (record, framed record, index in steps)
    steps: list[tuple[Step, ...]] = []  # a shape's tally steps (or one physician's, past SHAPES_MAX) ...
    uses: list[int] = []  # ... and how many physicians have them
    tally = packed.tally
    count = 0
    with store.engine.connect() as conn:
        sparse = store.sparse_facts(conn)
        credits = sparse["credits"]
        # Violations, sanctions or restorations: the engine runs for each.  Credits alone make a
        # record that depends on the agreements and the credits only: memoised like the rest.
        evaluated = set().union(*(sparse[table].keys() for table in ("violations", "sanctions", "restorations")))
        for code, group in groupby(_scan(store, conn), itemgetter(0)):
            rows = tuple(group)
            if code in evaluated:
                record = physician_record(profile, _facts(code, days.agreements(rows), sparse), calendar)
                value = encode_physician(record)
                framed = _frame(value)
                tally.add(physician_steps(record))
            else:
                # The shape: the rows without the code (one agreement: a 3-tuple, the common case).
                shape = rows[0][1:] if len(rows) == 1 else tuple(r[1:] for r in rows)
                if code in credits:
                    shape = (shape, tuple((c.level, c.effective_from) for c in credits[code]))
                known = shapes.get(shape)
                if known is None:
                    record = physician_record(profile, _facts(code, days.agreements(rows), sparse), calendar)
                    value = encode_physician(record)
                    known = (value, _frame(value), len(steps))
                    steps.append(physician_steps(record))
                    uses.append(0)
                    if len(shapes) < SHAPES_MAX:
                        shapes[shape] = known
                value, framed, index = known
                uses[index] += 1
            if len(value) > LISTPACK_VALUE_MAX:
                overflow[code] = value
                framed = framed_overflow
            name = code.encode()
            parts[crc32(name) & mask] += (headers[len(name)], name, framed)
            count += 1
            if count % 4096 == 0 and between is not None:
                between()
            if progress is not None and count % 100_000 == 0:
                progress(count)
    for shape_steps, n in zip(steps, uses, strict=True):
        tally.add(shape_steps, n)
    packed.count = count
    return packed


def _facts(code: str, agreements_: tuple[Agreement, ...], sparse: dict[str, dict[str, list[Any]]]) -> PhysicianFacts:
    return PhysicianFacts(
        code=code,
        agreements=agreements_,
        violations=tuple(sparse["violations"].get(code, ())),
        sanctions=tuple(sparse["sanctions"].get(code, ())),
        restorations=tuple(sparse["restorations"].get(code, ())),
        credits=tuple(sparse["credits"].get(code, ())),
        revoked=tuple(sparse["revoked"].get(code, ())),
    )


def _scan(store: Store, conn: sa.Connection) -> Iterator[tuple[Any, ...]]:
    """(code, institution, start, end) rows ordered by code, institution, start; a physician
    without agreements gives one row of Nones.  Dates come as the driver gives them."""
    p, a = physicians, agreements
    query = (
        sa.select(p.c.code, a.c.institution_code, a.c.start, a.c.end)
        .select_from(p.outerjoin(a, a.c.physician_code == p.c.code))
        .order_by(_bytewise(store, p.c.code), _bytewise(store, a.c.institution_code), a.c.start)
    )
    sql = str(query.compile(dialect=store.engine.dialect))
    dbapi: Any = conn.connection.driver_connection
    # PostgreSQL: a named (server-side) cursor streams; SQLite's cursor steps through the result.
    cursor = dbapi.cursor(name="drgate_full_sync") if store.dialect == "postgresql" else dbapi.cursor()
    try:
        cursor.execute(sql)
        while True:
            rows = cursor.fetchmany(FETCH_ROWS)
            if not rows:
                return
            yield from rows
    finally:
        cursor.close()


def _bytewise(store: Store, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """Order as Python compares str (PostgreSQL's default collation follows the locale)."""
    return column.collate("C") if store.dialect == "postgresql" else column


class _Days:
    """Day ordinals of the dates the driver returns (ISO text on SQLite, ``date`` on PostgreSQL),
    memoised: a store has a few thousand distinct dates."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[Any, int] = {None: OPEN_END}

    def __call__(self, raw: Any) -> int:
        found = self._memo.get(raw)
        if found is None:
            value = raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])
            found = self._memo[raw] = value.toordinal()
        return found

    def agreements(self, rows: tuple[tuple[Any, ...], ...]) -> tuple[Agreement, ...]:
        return tuple(Agreement(r[1], self(r[2]), self(r[3])) for r in rows if r[1] is not None)


def _frame(value: bytes) -> bytes:
    """The end of the code's bulk string, then the value's."""
    return b"\r\n$%d\r\n%b\r\n" % (len(value), value)


def _unframe(framed: bytes) -> bytes:
    return framed[framed.index(b"\r\n", 2) + 2 : -2]
