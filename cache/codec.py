"""Records as they are stored in Redis: compact JSON arrays, dates as day ordinals.

    physician   [agreements, sanctions, credits, points]   (trailing empty lists dropped)
      agreement   [institution, start, end]          end 0 = open
      sanction    [action, start, end, ban_until, article, computed, ref]
      credit      [level, start]
      points      [year, points]
    institution [sanctions]
    aliases     [[local_code, physician_code, start, end], ...]   one institution's (end 0 = open)

A typical active physician is ~30 bytes: ``[[["H33080200001",739891,0]]]``.
"""

from __future__ import annotations

from typing import Any

import orjson

from cache.errors import CorruptRecord
from rules.model import OPEN_END, Agreement, Credit, InstitutionRecord, PhysicianRecord, Sanction

__all__ = ["decode_aliases", "decode_institution", "decode_physician", "encode_aliases", "encode_institution",
           "encode_physician"]


def _end(value: int) -> int:
    return 0 if value >= OPEN_END else value


def _sanction(s: Sanction) -> list[Any]:
    return [s.action, s.start, _end(s.end), s.ban_until, s.article, int(s.computed), s.ref]


def encode_physician(record: PhysicianRecord) -> bytes:
    parts: list[Any] = [
        [[a.institution, a.start, _end(a.end)] for a in record.agreements],
        [_sanction(s) for s in record.sanctions],
        [[c.level, c.start] for c in record.credits],
        [[year, points] for year, points in record.points],
    ]
    while parts and not parts[-1]:
        parts.pop()
    # A copy: orjson's result keeps its ~4 KiB write buffer as capacity, and a full sync holds a
    # million of these until they are written (4 GiB instead of ~40 MiB of records).
    return bytes(memoryview(orjson.dumps(parts)))


def encode_institution(record: InstitutionRecord) -> bytes:
    return orjson.dumps([[_sanction(s) for s in record.sanctions]])


def _day(value: Any) -> int:
    """A day ordinal as the sync writes it (0 = none / open); anything else is a corrupt record."""
    if type(value) is not int or not 0 <= value < OPEN_END:
        raise ValueError(f"{value!r} is not a day ordinal")
    return value


def _decode_sanctions(raw: list[Any]) -> tuple[Sanction, ...]:
    return tuple(
        Sanction(str(a), _day(st), _day(en) or OPEN_END, _day(ban), str(art), bool(comp), str(ref))
        for a, st, en, ban, art, comp, ref in raw
    )


def decode_physician(code: str, raw: bytes) -> PhysicianRecord:
    """The record of ``code``; ``CorruptRecord`` when the bytes are not a record."""
    try:
        parts = orjson.loads(raw)
        agreements = tuple(Agreement(str(i), _day(s), _day(e) or OPEN_END) for i, s, e in parts[0]) if parts else ()
        sanctions = _decode_sanctions(parts[1]) if len(parts) > 1 else ()
        credits = tuple(Credit(str(level), _day(s)) for level, s in parts[2]) if len(parts) > 2 else ()
        points = tuple((int(y), int(p)) for y, p in parts[3]) if len(parts) > 3 else ()
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise CorruptRecord(code) from exc
    return PhysicianRecord(code, agreements, sanctions, credits, points)


def decode_institution(code: str, raw: bytes) -> InstitutionRecord:
    try:
        parts = orjson.loads(raw)
        return InstitutionRecord(code, _decode_sanctions(parts[0]))
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise CorruptRecord(code) from exc


def encode_aliases(entries: list[tuple[str, str, int, int]]) -> bytes:
    return orjson.dumps([[local, physician, start, _end(end)] for local, physician, start, end in entries])


def decode_aliases(code: str, raw: bytes) -> dict[str, tuple[tuple[str, int, int], ...]]:
    """LOCAL CODE → ((physician_code, start, end), ...) of institution ``code``."""
    try:
        found: dict[str, list[tuple[str, int, int]]] = {}
        for local, physician, start, end in orjson.loads(raw):
            found.setdefault(str(local), []).append((str(physician), _day(start), _day(end) or OPEN_END))
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise CorruptRecord(code) from exc
    return {local: tuple(entries) for local, entries in found.items()}
