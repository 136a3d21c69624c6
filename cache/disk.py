"""The last snapshot a gateway host verified, kept in a local file (as OPA keeps its last bundle).

A worker that starts while Redis is down, or empty, answers from it (lines flagged `stale`)
rather than `unverified` for every physician it would have known.

Writing (``dump``, a background task of the asyncio reader, never on a request): the published
snapshot is read whole from Redis, a few hundred buckets a round trip; each bucket is framed in
code order (``cache.digest.frame``) in a thread; the content digest is computed and compared with
``meta``'s, and ``meta``'s id must be the same after the read as before.  Only then is the file
written, to a temporary file, fsynced and renamed over the old one.  One worker of a host writes
at a time (``flock`` on ``<file>.lock``); a file that already holds the publication is left alone.

Reading (``SnapshotFile.load``): the header must name this prefix and this profile, and the
content must give the digest the header carries, else the file is refused and the log names it
and why (never a code or a name).

    header   one JSON line: {"format": 1, "prefix", "profile", "meta": {…}, "sections": [[kind, n, bytes], …]}
    body     the sections, back to back: b<bucket> framed fields, x overflow records, i institutions,
             a aliases, k the API keys' table (``cache.callers``: digests, names, roles) — these two
             are not in the snapshot's digest, the file's SHA-256 in the header covers them

A file of format 1 (no API keys) is refused: installed, it would leave a worker that knows no
key, with every check and read open to anyone, where Redis had published the store's keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cache.digest import bucket_term, entries_term, frame, hexdigest
from cache.errors import SnapshotFileRefused

__all__ = ["FORMAT", "Loaded", "SnapshotFile", "frame_buckets", "parse_framed"]

log = logging.getLogger(__name__)

FORMAT = 2
#: ``meta`` fields the file keeps: what ``SnapshotCache.build`` reads.
META_FIELDS = ("generation", "version", "published_at", "published_ts", "physicians", "buckets", "id",
               "generation_id", "digest", "profile", "verified_ts", "callers")


@dataclass(frozen=True, slots=True)
class Loaded:
    meta: dict[bytes, bytes]
    buckets: list[dict[bytes, bytes]]
    overflow: dict[bytes, bytes]
    institutions: dict[bytes, bytes]
    aliases: dict[bytes, bytes]
    callers: dict[bytes, bytes]


def frame_buckets(replies: list[dict[bytes, bytes]]) -> list[bytes]:
    """Each bucket's fields, sorted by code and framed: the bytes its digest term hashes."""
    return [b"".join(frame(code, fields[code]) for code in sorted(fields)) for fields in replies]


def frame_entries(entries: Mapping[bytes, bytes]) -> bytes:
    return b"".join(frame(code, entries[code]) for code in sorted(entries))


def parse_framed(blob: bytes | memoryview) -> dict[bytes, bytes]:
    """The fields of framed bytes (``$<n>\\r\\n<code>\\r\\n$<n>\\r\\n<value>\\r\\n`` …); ValueError if malformed."""
    data = bytes(blob)
    out: dict[bytes, bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        parts: list[bytes] = []
        for _ in range(2):
            if data[pos : pos + 1] != b"$":
                raise ValueError(f"framing broken at byte {pos}")
            eol = data.index(b"\r\n", pos)
            size = int(data[pos + 1 : eol])
            start = eol + 2
            parts.append(data[start : start + size])
            if data[start + size : start + size + 2] != b"\r\n":
                raise ValueError(f"framing broken at byte {start + size}")
            pos = start + size + 2
        out[parts[0]] = parts[1]
    return out


class SnapshotFile:
    def __init__(self, path: Path, prefix: str, profile: str) -> None:
        self.path = path
        self.prefix = prefix
        self.profile = profile

    # -- writing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[bool]:
        """True while this process alone may write the file (another worker of the host may be at it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def held_id(self) -> str | None:
        """The publication id the file holds, from its header alone; None without a readable one."""
        try:
            with open(self.path, "rb") as f:
                header = orjson.loads(f.readline())
            return str(header["meta"]["id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, meta: Mapping[bytes, bytes], buckets: list[bytes], overflow: Mapping[bytes, bytes],
              institutions: Mapping[bytes, bytes], aliases: Mapping[bytes, bytes],
              callers: Mapping[bytes, bytes]) -> int:
        """Check the content against ``meta``'s digest and write the file atomically; its size.
        ``SnapshotFileRefused`` (nothing written) when the content does not give the digest."""
        digest = hexdigest((*(bucket_term(b) for b in buckets), entries_term(b"px", overflow),
                            entries_term(b"i", institutions)))
        if digest != meta.get(b"digest", b"").decode():
            raise SnapshotFileRefused(f"the snapshot read from Redis gives digest {digest}, not the published "
                          f"{meta.get(b'digest', b'').decode()}")
        sections = [(f"b{n}", blob) for n, blob in enumerate(buckets) if blob]
        sections += [("x", frame_entries(overflow)), ("i", frame_entries(institutions)),
                     ("a", frame_entries(aliases)), ("k", frame_entries(callers))]
        checksum = hashlib.sha256()
        for _, blob in sections:
            checksum.update(blob)
        header = orjson.dumps({
            "format": FORMAT, "prefix": self.prefix, "profile": meta.get(b"profile", b"").decode(),
            "meta": {name: meta[name.encode()].decode() for name in META_FIELDS if name.encode() in meta},
            "sections": [[name, len(blob)] for name, blob in sections], "sha256": checksum.hexdigest(),
            "written_at": time.time(),
        })
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(header + b"\n")
            for _, blob in sections:
                f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        return len(header) + 1 + sum(len(blob) for _, blob in sections)

    # -- reading ---------------------------------------------------------------------------------

    def load(self) -> Loaded | None:
        """The snapshot the file holds, checked; None (and the log says why) when there is none to use."""
        try:
            return self._load()
        except FileNotFoundError:
            log.info("no snapshot file at %s", self.path)
        except SnapshotFileRefused as exc:
            log.error("snapshot file %s refused: %s", self.path, exc)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.error("snapshot file %s refused: unreadable (%s)", self.path, type(exc).__name__)
        return None

    def _load(self) -> Loaded:
        data = self.path.read_bytes()
        eol = data.index(b"\n")
        header: dict[str, Any] = orjson.loads(data[:eol])
        if header.get("format") != FORMAT:
            raise SnapshotFileRefused(f"format {header.get('format')!r}, this drgate reads {FORMAT}")
        if header["prefix"] != self.prefix:
            raise SnapshotFileRefused(
                f"written for redis prefix {header['prefix']!r}, this gateway's is {self.prefix!r}")
        if header["profile"] != self.profile:
            raise SnapshotFileRefused(f"computed for profile {header['profile']}, this gateway's is {self.profile}")
        body = memoryview(data)[eol + 1 :]
        if hashlib.sha256(body).hexdigest() != header["sha256"]:
            raise SnapshotFileRefused("its content does not match its checksum (truncated or corrupt)")
        meta = {k.encode(): str(v).encode() for k, v in header["meta"].items()}
        buckets: list[dict[bytes, bytes]] = [{} for _ in range(int(meta[b"buckets"]))]
        found: dict[str, dict[bytes, bytes]] = {}
        terms: list[int] = []
        pos = 0
        for name, size in header["sections"]:
            blob = body[pos : pos + size]
            pos += size
            fields = parse_framed(blob)
            if name.startswith("b"):
                buckets[int(name[1:])] = fields
                terms.append(bucket_term(bytes(blob)))
            else:
                found[name] = fields
        if pos != len(body):
            raise SnapshotFileRefused("its sections do not add up to its length")
        overflow, institutions, aliases, callers = found["x"], found["i"], found["a"], found["k"]
        digest = hexdigest((*terms, entries_term(b"px", overflow), entries_term(b"i", institutions)))
        if digest != meta[b"digest"].decode():
            raise SnapshotFileRefused(f"its content gives digest {digest}, not the {meta[b'digest'].decode()} it names")
        return Loaded(meta, buckets, overflow, institutions, aliases, callers)
