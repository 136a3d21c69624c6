"""Tamper evidence of the decision archive: a hash chain per received day.

A decision's *digest* is the SHA-256 of its rows in one canonical form (every column but the
chain's own, lines in order, grounds by ref, dates ISO); its *chain* is
``sha256(previous chain + digest)``, the first one chained to ``genesis(day)``.  A decision's lines
are stored packed in its row (``pack_lines``: the canonical form itself), so archiving hashes bytes
already made and ``verify`` hashes the column as read.  The day's last
chain and length are kept in ``decision_days``.  Changing, adding or removing any archived
decision, line or ground of a day breaks every chain from that decision on: ``drgate decisions
verify`` recomputes them and names the first that does not match.  Feedback (3103) has a chain of
its own per received day (``feedback_digest``, ``feedback_genesis``; its head beside the
decisions' in ``decision_days``): it arrives apart from its decision, often on another day.

The chain proves the rows were not changed after archiving by someone without the means to
rewrite the whole day's chain; anchor the heads elsewhere (a daily export, a notary) for more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

__all__ = ["DECISION_FIELDS", "FEEDBACK_FIELDS", "GROUND_FIELDS", "LINE_FIELDS", "ArchivedDecision", "ArchivedFeedback",
           "Row", "digest", "digest_of_rows", "digest_packed", "feedback_digest", "feedback_genesis", "genesis", "link",
           "pack_lines", "unpack_lines"]

#: Columns of a decision's row covered by its digest, in order; the row is stored with ``seq`` and
#: ``chain`` after them (the chain itself).
DECISION_FIELDS = ("day", "decision_id", "received_at", "front", "caller", "claim_id", "mdtrt_ids",
                   "institution_code", "service_from", "service_to", "decision", "enforced", "fail_mode", "profile",
                   "snapshot_id", "snapshot_generation", "snapshot_version", "line_count")
_LINE_COUNT = DECISION_FIELDS.index("line_count")
#: Columns of a line's row, in order; the digest covers all but the first two (the decision's key),
#: and ``ban_until`` (revision 0005) only when it is set: a line archived before it keeps its digest.
LINE_FIELDS = ("day", "decision_id", "n", "line_id", "physician_code", "resolved_code", "service_day", "decision",
               "reason", "basis", "until", "flags", "would_reject", "refs", "ban_until")
_BAN_UNTIL = LINE_FIELDS.index("ban_until")
GROUND_FIELDS = ("day", "decision_id", "ref", "kind", "action", "start", "end", "ban_until", "article", "computed")

#: A row as a tuple of its fields, dates as ISO strings (how SQLite stores them, what PostgreSQL casts).
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ArchivedDecision:
    """One decision as the archive writes it: its row in the order above (without ``seq`` and
    ``chain``), its lines packed (``pack_lines``: the bytes stored and hashed), the distinct
    physician codes of its lines in the order of their first line (the search's index rows) and its
    grounds' rows, sorted by ref.  The reader of the decision log packs the lines as it reads them
    (``gateway.decisionlog.entries``): no row a line is built to be packed again."""

    day: date
    decision: Row
    packed: bytes = b"[]"
    physicians: tuple[str, ...] = ()
    grounds: list[Row] = field(default_factory=list)

    @property
    def decision_id(self) -> str:
        return str(self.decision[1])

    @property
    def line_count(self) -> int:
        return int(self.decision[_LINE_COUNT])

    @property
    def lines(self) -> list[Row]:
        """The line rows (``LINE_FIELDS``; ``ban_until`` None when absent), unpacked: for tools and tests."""
        key, width = self.decision[:2], len(LINE_FIELDS) - 2
        return [(*key, *line) if len(line) == width else (*key, *line, None) for line in orjson.loads(self.packed)]


@dataclass(frozen=True, slots=True)
class ArchivedFeedback:
    row: dict[str, Any]


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def pack_lines(lines: Iterable[Row]) -> bytes:
    """A decision's lines as the archive keeps them (``decisions.lines``): one JSON array, a line's
    fields from ``n`` on, ``ban_until`` only when set.  The digest covers these very bytes.  The
    reader of the decision log writes the same bytes from an entry's lines without building these
    rows (``gateway.decisionlog.entries``; ``tests/test_archive_packing.py`` holds them equal)."""
    return orjson.dumps([r[2:] if r[_BAN_UNTIL] is not None else r[2:_BAN_UNTIL] for r in lines])


def unpack_lines(packed: str | bytes) -> list[dict[str, Any]]:
    """The packed lines as rows (mappings of LINE_FIELDS from ``n``; ``ban_until`` None when absent)."""
    names = LINE_FIELDS[2:]
    return [dict(zip(names, (*line, None) if len(line) < len(names) else line, strict=True))
            for line in orjson.loads(packed)]


def digest_packed(decision: Row, packed: bytes, grounds: Iterable[Row]) -> str:
    """The decision's digest: of ``[decision, lines, grounds]`` as one compact JSON array, joined
    from the bytes already made (orjson writes no spaces, so the join is that array's encoding)."""
    return hashlib.sha256(b"".join((b"[", orjson.dumps(decision), b",", packed, b",",
                                    orjson.dumps([g[2:] for g in grounds]), b"]"))).hexdigest()


def digest(decision: Row, lines: Iterable[Row], grounds: Iterable[Row]) -> str:
    """The decision's digest from its rows (lines in order, grounds by ref), as inserted."""
    return digest_packed(decision, pack_lines(lines), grounds)


def digest_of_rows(decision: Mapping[str, Any], grounds: Iterable[Mapping[str, Any]]) -> str:
    """The same digest from a decision's row read back (its ``lines`` as stored) and its grounds."""
    packed = decision["lines"]
    by_ref = sorted(grounds, key=lambda g: str(g["ref"]))
    return digest_packed(tuple(_iso(decision[f]) for f in DECISION_FIELDS),
                         packed.encode() if isinstance(packed, str) else packed,
                         [tuple(_iso(g[f]) for f in GROUND_FIELDS) for g in by_ref])


def genesis(day: date) -> str:
    return hashlib.sha256(f"drgate-decisions:{day.isoformat()}".encode()).hexdigest()


#: Columns of a feedback row covered by its digest, in order (the row also holds ``seq``, ``chain``).
FEEDBACK_FIELDS = ("feedback_id", "decision_id", "day", "received_at", "front", "caller", "body")


def feedback_digest(row: Mapping[str, Any]) -> str:
    """A feedback row's digest (inserted or read back: dates as ``date`` or ISO)."""
    return hashlib.sha256(orjson.dumps([_iso(row[f]) for f in FEEDBACK_FIELDS])).hexdigest()


def feedback_genesis(day: date | str) -> str:
    """The first link of a day's feedback chain: feedback is chained per received day, apart from decisions."""
    return hashlib.sha256(f"drgate-feedback:{_iso(day)}".encode()).hexdigest()


def link(previous: str, decision_digest: str) -> str:
    return hashlib.sha256(f"{previous}{decision_digest}".encode()).hexdigest()
