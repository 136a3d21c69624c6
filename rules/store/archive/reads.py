"""The decision archive's reads: a decision by id, by claim, by physician (paged), verify, export.

A decision comes back whole: its row, its lines (each rejection with its article, ``basis``),
the records that decided them as the snapshot held them (``grounds``), what has become of those
records in the store since (``since``: revoked on a day, changed, or gone), and the feedback
callers sent on it.  The archive keeps what was decided; ``since`` only adds what is known now.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rules.store.archive.chain import (
    LINE_FIELDS,
    digest_of_rows,
    feedback_digest,
    feedback_genesis,
    genesis,
    link,
    unpack_lines,
)
from rules.store.schema import (
    credits,
    decision_days,
    decision_feedback,
    decision_grounds,
    decision_physicians,
    decisions,
    institution_sanctions,
    revocations,
    sanctions,
)

__all__ = ["ArchiveReader", "Mismatch", "Page", "VerifyResult"]

#: The decision's columns of an exported line, before the line's own (LINE_FIELDS from ``n``).
_EXPORT_DECISION = ("day", "decision_id", "received_at", "front", "caller", "claim_id", "mdtrt_ids", "institution_code",
                    "service_from", "service_to", "decision", "enforced", "fail_mode", "profile", "snapshot_id",
                    "snapshot_generation", "snapshot_version")
_EXPORT_FIELDS = (*_EXPORT_DECISION[:10], "claim_decision", *_EXPORT_DECISION[11:], *LINE_FIELDS[2:])


@dataclass(frozen=True, slots=True)
class Page:
    decisions: list[dict[str, Any]]
    cursor: str | None  # give it back for the next page; None on the last


@dataclass(frozen=True, slots=True)
class Mismatch:
    day: date
    seq: int
    decision_id: str | None  # the decision's, or the feedback's id (``kind``)
    why: str
    kind: str = "decision"  # decision | feedback: which of the day's chains


@dataclass(frozen=True, slots=True)
class VerifyResult:
    days: int
    decisions: int
    mismatch: Mismatch | None


def _plain(row: Any) -> dict[str, Any]:
    # str(k): SQLAlchemy's keys are quoted_name, a str subclass orjson refuses as a key
    return {str(k): (v.isoformat() if isinstance(v, date) else v) for k, v in row._mapping.items()}


class ArchiveReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- lookup ------------------------------------------------------------------------------

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(decisions).where(decisions.c.decision_id == decision_id)).first()
            return None if row is None else self._whole(conn, row)

    def by_claim(self, claim_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(decisions).where(decisions.c.claim_id == claim_id)
                                .order_by(decisions.c.received_at, decisions.c.decision_id).limit(limit)).all()
            return [self._whole(conn, r) for r in rows]

    def by_physician(self, code: str, start: date, end: date, cursor: str | None = None,
                     limit: int = 50) -> Page:
        """Decisions with a line of ``code`` received from ``start`` to ``end`` (inclusive), oldest first."""
        p = decision_physicians.c
        q = sa.select(p.day, p.decision_id).where(p.physician_code == code, p.day >= start, p.day <= end)
        if cursor:
            after_day, _, after_id = cursor.partition("/")
            q = q.where(sa.tuple_(p.day, p.decision_id)
                        > sa.tuple_(sa.literal(date.fromisoformat(after_day)), sa.literal(after_id)))
        q = q.order_by(p.day, p.decision_id).limit(limit + 1)
        with self.engine.connect() as conn:
            keys = conn.execute(q).all()
            found = []
            for day, decision_id in keys[:limit]:
                row = conn.execute(sa.select(decisions).where(decisions.c.day == day,
                                                              decisions.c.decision_id == decision_id)).one()
                found.append(self._whole(conn, row))
        more = len(keys) > limit
        return Page(found, f"{keys[limit - 1][0].isoformat()}/{keys[limit - 1][1]}" if more else None)

    def _whole(self, conn: Connection, row: Any) -> dict[str, Any]:
        lines = unpack_lines(row.lines)
        grounds = [_plain(r) for r in conn.execute(sa.select(decision_grounds).where(
            decision_grounds.c.day == row.day, decision_grounds.c.decision_id == row.decision_id)
            .order_by(decision_grounds.c.ref))]
        for g in grounds:
            g["since"] = self._since(conn, g, lines)
            del g["day"], g["decision_id"]
        for line in lines:
            line["flags"] = line["flags"].split(",") if line["flags"] else []
            line["refs"] = line["refs"].split(",") if line["refs"] else []
        feedback = [{**_plain(f), "body": orjson.loads(f.body)} for f in conn.execute(
            sa.select(decision_feedback).where(decision_feedback.c.decision_id == row.decision_id)
            .order_by(decision_feedback.c.received_at))]
        for f in feedback:
            del f["decision_id"], f["seq"], f["chain"]
        return {**_plain(row), "lines": lines, "grounds": grounds, "feedback": feedback}

    def _since(self, conn: Connection, ground: dict[str, Any], lines: list[dict[str, Any]]) -> str | None:
        """What the store says of the record now, when it no longer says what was decided on."""
        ref, kind = ground["ref"], ground["kind"]
        if ref.startswith("auto:"):
            return None  # computed from the year's points: see the physician's violations and revocations
        if kind == "credit":
            codes = {line["physician_code"] for line in lines if ref in line["refs"].split(",")}
            level = conn.execute(sa.select(credits.c.level).where(
                credits.c.physician_code.in_(codes), credits.c.effective_from == date.fromisoformat(ref[7:]))).scalar()
            return None if level == ground["action"] else ("gone from the store" if level is None
                                                            else f"changed since: level {level}")
        revoked = conn.execute(sa.select(revocations.c.revoked_on).where(revocations.c.target_id == ref)).scalar()
        if revoked is not None:
            return f"revoked since {revoked.isoformat()}"
        table = institution_sanctions if kind == "institution_sanction" else sanctions
        now = conn.execute(sa.select(table.c.action, table.c.start, table.c.end).where(table.c.id == ref)).first()
        if now is None:
            return "gone from the store"
        if (now.action, now.start.isoformat(), now.end.isoformat() if now.end else None) != (
                ground["action"], ground["start"], ground["end"]):
            return "changed since"
        return None

    # -- tamper evidence -----------------------------------------------------------------------

    def days(self) -> list[date]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(decision_days.c.day).order_by(decision_days.c.day)).scalars())

    def verify(self, day: date | None = None, chunk: int = 2000) -> VerifyResult:
        """Recompute each day's chain; the first decision whose rows or chain do not match."""
        days = [day] if day is not None else self.days()
        total = 0
        with self.engine.connect() as conn:
            for d in days:
                checked, mismatch = self._verify_day(conn, d, chunk)
                total += checked
                if mismatch is not None:
                    return VerifyResult(len(days), total, mismatch)
        return VerifyResult(len(days), total, None)

    def _verify_day(self, conn: Connection, day: date, chunk: int) -> tuple[int, Mismatch | None]:
        head_row = conn.execute(sa.select(decision_days).where(decision_days.c.day == day)).first()
        head, seq = genesis(day), 0
        while True:
            rows = conn.execute(sa.select(decisions).where(decisions.c.day == day, decisions.c.seq > seq)
                                .order_by(decisions.c.seq).limit(chunk)).all()
            if not rows:
                break
            ids = [r.decision_id for r in rows]
            grounds: dict[str, list[Any]] = {i: [] for i in ids}
            for r in conn.execute(sa.select(decision_grounds).where(decision_grounds.c.day == day,
                                                                    decision_grounds.c.decision_id.in_(ids))):
                grounds[r.decision_id].append(r._mapping)
            for r in rows:
                if r.seq != seq + 1:
                    return seq, Mismatch(day, seq + 1, None, f"decision number {seq + 1} of the day is missing")
                seq = r.seq
                head = link(head, digest_of_rows(dict(r._mapping), grounds[r.decision_id]))
                if head != r.chain:
                    return seq - 1, Mismatch(day, seq, r.decision_id, "its rows or chain were changed")
        if head_row is None or (head_row._mapping["count"], head_row.head) != (seq, head):
            return seq, Mismatch(day, seq + 1, None, "the day's chain head does not match: decisions were "
                                 "removed from its end, or the head was changed")
        return seq, self._verify_feedback(conn, day, head_row)

    def _verify_feedback(self, conn: Connection, day: date, head_row: Any) -> Mismatch | None:
        """The day's feedback chain (feedback is few: read at once)."""
        head, seq = feedback_genesis(day), 0
        rows = conn.execute(sa.select(decision_feedback).where(decision_feedback.c.day == day)
                            .order_by(decision_feedback.c.seq)).all()
        for r in rows:
            if r.seq != seq + 1:
                return Mismatch(day, seq + 1, None if r.seq is not None else r.feedback_id,
                                f"feedback number {seq + 1} of the day is missing", "feedback")
            seq = r.seq
            head = link(head, feedback_digest(dict(r._mapping)))
            if head != r.chain:
                return Mismatch(day, seq, r.feedback_id, "its row or chain was changed", "feedback")
        if (head_row.feedback_count, head_row.feedback_head or feedback_genesis(day)) != (seq, head):
            return Mismatch(day, seq + 1, None, "the day's feedback chain head does not match: feedback was "
                            "removed from its end, or the head was changed", "feedback")
        return None

    # -- export --------------------------------------------------------------------------------

    def export_csv(self, start: date, end: date, out: IO[str]) -> int:
        """Every archived line received from ``start`` to ``end`` (inclusive), a CSV row each; rows written."""
        writer = csv.writer(out)
        writer.writerow(_EXPORT_FIELDS)
        n = 0
        with self.engine.connect() as conn:
            for row in self._export_rows(conn, start, end):
                writer.writerow(["" if v is None else v for v in row])
                n += 1
        return n

    def _export_rows(self, conn: Connection, start: date, end: date) -> Iterator[tuple[Any, ...]]:
        columns = [decisions.c[name] for name in _EXPORT_DECISION]
        width = len(LINE_FIELDS) - 2
        day = start
        while day <= end:  # a day at a time: one partition each on PostgreSQL
            q = sa.select(*columns, decisions.c.lines).where(decisions.c.day == day).order_by(decisions.c.seq)
            for r in conn.execution_options(yield_per=2000).execute(q):
                head = tuple(v.isoformat() if isinstance(v, date) else v for v in r[:-1])
                for line in orjson.loads(r[-1]):
                    yield (*head, *line, *([None] * (width - len(line))))
            day += timedelta(1)
