"""A snapshot's content digest: written in ``meta`` with the flip, checked by whoever copies it.

    digest = ( Σ  H("bucket", the bucket's fields sorted by code, each framed as RESP)
             + Σ  H("px", code, record)        for every record of the overflow hash
             + Σ  H("i", code, record)         for every institution )      mod 2**128

H is SHA-256 (the first 16 bytes), of the kind's name and the framed bytes.  A sum does not depend on the order the
parts are read in, and an incremental sync derives the new digest from the old one: it takes out
the terms of the buckets, overflow records and institutions it rewrites (read under the lock,
before the transaction) and adds their new terms, without reading the rest of the snapshot.

A full sync hashes each bucket's bytes as it sends them (``PackedBuckets`` frames them in code
order already): 55 MB, ~0.12 s for 1,000,000 physicians (SHA-256 was the fastest of hashlib's
hashes measured here, BLAKE2b 0.20 s), ~2 % of the sync.  The digest catches a
truncated, mixed or corrupt copy; it is not a signature (a sum of hashes can be steered by
someone who can write the snapshot, and such a writer needs no forging).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from hashlib import sha256

__all__ = ["MOD", "bucket_term", "entries_term", "entry_term", "fields_term", "frame", "hexdigest"]

MOD = 1 << 128


def frame(code: bytes, value: bytes) -> bytes:
    """One field as the bucket's HSET frames it: the canonical bytes of a bucket."""
    return b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(code), code, len(value), value)


def bucket_term(framed: bytes) -> int:
    """The term of a bucket whose fields, sorted by code, frame to ``framed``; 0 for an empty one."""
    if not framed:
        return 0
    return _term(b"bucket\n", framed)


def fields_term(fields: Mapping[bytes, bytes]) -> int:
    """The term of a bucket as HGETALL returns it (any order)."""
    return bucket_term(b"".join(frame(code, fields[code]) for code in sorted(fields)))


def entry_term(kind: bytes, code: bytes, value: bytes) -> int:
    """The term of one overflow record (``b"px"``) or institution (``b"i"``)."""
    return _term(kind + b"\n", frame(code, value))


def entries_term(kind: bytes, entries: Mapping[str, bytes] | Mapping[bytes, bytes]) -> int:
    """The terms of a whole overflow hash or institutions hash (codes as str or as Redis's bytes)."""
    return sum(entry_term(kind, code if isinstance(code, bytes) else code.encode(), value)
               for code, value in entries.items()) % MOD


def _term(kind: bytes, framed: bytes) -> int:
    h = sha256(kind)
    h.update(framed)
    return int.from_bytes(h.digest()[:16], "big")


def hexdigest(terms: Iterable[int]) -> str:
    return f"{sum(terms) % MOD:032x}"
