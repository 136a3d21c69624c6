"""A claim's decision, shared by every front: the HTTP API, the national platform's, the in-process one.

``decide_claim`` is pure: the claim, the records read, the snapshot, the policy → the answer.
``gateway.check.service`` reads the records before it and observes the answer after it.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from cache.snapshot_cache import UNREAD, Snapshot
from gateway.check.claim import Claim, ClaimLine, service_day
from gateway.check.decision import PASS, REJECT
from gateway.check.policy import Policy
from gateway.check.verdicts import NEXT_LINE, Table, Verdict, table_for, verdict

__all__ = ["Audit", "ClaimResult", "DecidedLine", "Policy", "decide_claim"]


# DecidedLine keeps an instance __dict__ (no slots): orjson serialises such a dataclass from its
# __dict__ in C, ~5x faster than a slots one; building one costs ~0.07 µs more.
@dataclass
class DecidedLine:
    """A line as the core decided it, policy applied: the fields of ``/v1``'s answer line
    (``gateway.api.schemas.LineResult`` documents them), which every front translates."""

    line_id: str
    physician_code: str
    decision: str
    reason: str
    basis: str | None
    until: str | None
    flags: list[str]
    would_reject: str | None
    ban_until: str | None = None


#: A decision's context, kept beside the answer for its log entry (``gateway.decisionlog.entries``)
#: and its lines: (institution code, the claim's service day, {line index: its own service day} or
#: None, each line's memoised verdict (``gateway.check.verdicts``), the snapshot, each line's
#: line_id).  A tuple: a frozen dataclass of it cost ~0.7 µs a claim (five ``object.__setattr__``).
Audit = tuple[str, int, dict[int, int] | None, list[Verdict], Snapshot | None, list[str]]

_LINE = b'{"line_id":'
_JOINED = b"".join
_SHOWN = itemgetter(11)
_NEXT = len(NEXT_LINE)
_CUT_FROM = 8  # lines from which one dumps of the ids, cut, beats a dumps an id (measured: 1–5 lines lose, 20 win)


def _decided(line_id: str, verdict: Verdict) -> DecidedLine:
    """The ``DecidedLine`` of a line answered by a memoised verdict (``gateway.check.verdicts``)."""
    v = verdict
    return DecidedLine(line_id, v[12], v[1], v[2], v[3], v[4], [*v[5]], v[6], v[8])


class ClaimResult:
    """A claim's answer: its lines in the claim's order, and what the decision log records beside it.

    A result decided by ``decide_claim`` keeps its lines as their memoised verdicts and builds
    the ``DecidedLine`` list only when a front reads ``lines`` (the national platform's, the
    in-process one); ``/v1`` answers with ``json()``, which joins the verdicts' serialised lines:
    a 20-line claim built 20 objects to serialise them again (measured below in BENCHMARKS.md)."""

    __slots__ = ("_audit", "_lines", "_texts", "claim_id", "decision", "decision_id", "enforced", "snapshot")

    def __init__(self, claim_id: str, decision: str, decision_id: str, snapshot: dict[str, Any], enforced: bool,
                 lines: list[DecidedLine] | None = None, _audit: Audit | None = None) -> None:
        self.claim_id = claim_id
        self.decision = decision
        self.decision_id = decision_id
        self.snapshot = snapshot
        self.enforced = enforced
        self._lines = lines
        self._audit = _audit  # None: a result built by hand (tests, tools), its lines given
        self._texts: list[bytes] | None = None

    @property
    def lines(self) -> list[DecidedLine]:
        found = self._lines
        if found is None:
            audit = self._audit
            assert audit is not None  # one of the two is always set
            found = self._lines = [_decided(line_id, v) for line_id, v in zip(audit[5], audit[3], strict=True)]
        return found

    def rejected(self) -> list[tuple[int, DecidedLine]]:
        """The rejected lines by their index in the claim, without the ``DecidedLine`` of every line
        (``lines`` builds all: ~0.8 µs each, 16 µs a 20-line claim with two rejected); each built
        as ``lines`` builds it.  Shadow mode rejects none (its lines pass, ``would_reject`` set)."""
        audit = self._audit
        if audit is None or self._lines is not None:
            return [(n, line) for n, line in enumerate(self.lines) if line.decision == REJECT]
        line_ids = audit[5]
        return [(n, _decided(line_ids[n], v)) for n, v in enumerate(audit[3]) if v[1] == REJECT]

    @property
    def audit(self) -> Audit | None:
        """The decision's context for its log entry; None for a result built by hand."""
        return self._audit

    def line_id_texts(self) -> list[bytes] | None:
        """Each line's ``line_id`` as written between its JSON string's quotes, or None when one
        needs an escape (a quote, a backslash, a control character) or the result was built by hand.

        One ``orjson.dumps`` of the ids, cut at ``","``: exact when no id needs an escape, since an
        id can then hold no quote (a 20-line answer ~1 µs faster than serialising each id alone)."""
        texts = self._texts
        if texts is None and self._audit is not None:
            line_ids = self._audit[5]
            dumped = orjson.dumps(line_ids)
            if line_ids and b"\\" not in dumped:
                texts = self._texts = dumped[2:-2].split(b'","')
        return texts

    def json(self) -> bytes:
        """The answer as ``/v1`` sends it: ``claim_id``, ``decision``, ``decision_id``, ``snapshot``,
        ``enforced``, ``lines`` (each line's fields in ``DecidedLine``'s order), as orjson writes them."""
        audit = self._audit
        dumps = orjson.dumps
        # One orjson call writes the claim's own fields; the lines go in before its closing brace.
        head = dumps({"claim_id": self.claim_id, "decision": self.decision, "decision_id": self.decision_id,
                      "snapshot": self.snapshot, "enforced": self.enforced})[:-1]
        if audit is None or self._lines is not None:
            return head + b',"lines":' + dumps(self.lines) + b"}"
        # line_id serialised here, the rest of each line once per memoised verdict, all joined at once
        # (one copy of the answer, ~2.5 KB at 20 lines)
        line_ids, verdicts = audit[5], audit[3]
        texts = self._texts  # cut already for the decision log's entry, or cut here from _CUT_FROM lines
        if texts is None and len(line_ids) >= _CUT_FROM:
            texts = self.line_id_texts()
        if texts is not None:  # each id's text, then its verdict's line and the next one's opening
            shown = texts * 2
            shown[::2] = texts
            shown[1::2] = map(_SHOWN, verdicts)
            shown[-1] = shown[-1][:-_NEXT]
            return _JOINED((head, b',"lines":[{"line_id":"', *shown, b"]}"))
        if len(line_ids) == 1:  # no list to build
            return _JOINED((head, b',"lines":[{"line_id":', dumps(line_ids[0])[:-1], verdicts[0][11][:-_NEXT],
                            b"]}"))
        lines = b",".join([(_LINE + dumps(line_id)[:-1] + v[11])[:-_NEXT]
                           for line_id, v in zip(line_ids, verdicts, strict=True)])
        return _JOINED((head, b',"lines":[', lines, b"]}"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClaimResult):
            return NotImplemented
        return (self.claim_id, self.decision, self.decision_id, self.snapshot, self.enforced, self.lines) == (
            other.claim_id, other.decision, other.decision_id, other.snapshot, other.enforced, other.lines)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (f"ClaimResult(claim_id={self.claim_id!r}, decision={self.decision!r}, "
                f"decision_id={self.decision_id!r}, snapshot={self.snapshot!r}, enforced={self.enforced!r}, "
                f"lines={self.lines!r})")


_PASSED = itemgetter(7)


def decide_claim(
    claim: Claim,
    records: Mapping[str, Any],
    snapshot: Snapshot | None,
    policy: Policy,
    *,
    redis_ok: bool = True,
    now: float | None = None,
    absent: Any = UNREAD,
) -> ClaimResult:
    """Decide every line; ``records`` maps each physician code to its record, None (not in the
    registry) or UNREAD; a code it lacks is ``absent`` (None when ``records`` is the whole snapshot)."""
    institution_code = claim["institution_code"]
    institution = snapshot.institutions.get(institution_code) if snapshot is not None else None
    if policy.foreign(snapshot):
        records, absent = _NOTHING, UNREAD  # another city's snapshot: nothing in it is verified here
    stale = policy.stale(snapshot, redis_ok, now)
    claim_day = service_day(claim["service_date"])
    claim_exempt = policy.claim_exempt(claim)
    # A line's answer but for its line_id is memoised (gateway.check.verdicts): most lines repeat.
    # From the whole snapshot (nothing absent unread) a hit holds as it is: no records probe.
    whole = records if absent is None else None
    table, trusted = table_for(snapshot, policy, institution_code, claim_day, claim_exempt, stale, whole)
    get, remembered = records.get, table.get
    verdicts: list[Verdict] = []
    keep = verdicts.append
    line_ids: list[str] = []
    name = line_ids.append
    own_days: dict[int, int] | None = None
    contexts: dict[tuple[Any, Any, Any], tuple[Table, int, bool]] = {}
    for line in claim["lines"]:
        code = line["physician_code"]
        name(line["line_id"])
        if len(line) == 2:  # line_id and physician_code only: the claim's day and exemption
            found = remembered(code)
            if found is None or not trusted and found[0] is not get(code, absent):
                found = verdict(table, code, get(code, absent), institution, institution_code, claim_day,
                                claim_exempt, stale, policy)
        else:  # its own terms: lines with the same terms share their table (a visit's orders, one 医疗类别)
            record = get(code, absent)
            if own_days is None:
                own_days = {}
            terms = (line.get("service_date"), line.get("emergency"), line.get("med_type"))
            context = contexts.get(terms)
            if context is None:
                context = contexts[terms] = _own_terms(line, claim_day, claim_exempt, institution_code, snapshot,
                                                       policy, stale, whole)
            own, on, exempt = context
            found = own.get(code)
            if found is None or found[0] is not record:
                found = verdict(own, code, record, institution, institution_code, on, exempt, stale, policy)
            own_days[len(verdicts)] = on
        keep(found)
    passed = sum(map(_PASSED, verdicts))
    overall = "partial" if passed and passed < len(verdicts) else (PASS if passed else REJECT)
    shown = {"id": snapshot.id, "version": snapshot.version, "published_at": snapshot.published_at} if snapshot \
        else {"id": None, "version": None, "published_at": None}
    return ClaimResult(claim["claim_id"], overall, decision_id(), shown, policy.enforce, None,
                       (institution_code, claim_day, own_days, verdicts, snapshot, line_ids))


def _own_terms(line: ClaimLine, claim_day: int, claim_exempt: bool, institution_code: str,
               snapshot: Snapshot | None, policy: Policy, stale: bool, whole: Any) -> tuple[Table, int, bool]:
    """(table, day, exemption) of a line with its own date, flag or med_type (``gateway.check.policy``:
    its exemption).  Its hits are compared with the record all the same (the tables may have been
    started anew by another thread's claim since the claim's own table was taken)."""
    line_date = line.get("service_date")
    on = claim_day if line_date is None else service_day(line_date)
    exempt = policy.line_exempt(line, claim_exempt)
    return table_for(snapshot, policy, institution_code, on, exempt, stale, whole)[0], on, exempt


_NOTHING: Mapping[str, Any] = {}


def decision_id() -> str:
    """A unique id: 64 random bits per process, then a counter (uuid4 costs ~2 µs a claim)."""
    if _ids[0] is None:  # first call: draw the bits, and draw new ones in a forked child
        _new_ids()
        os.register_at_fork(after_in_child=_new_ids)
    return f"{_ids[0]}{next(_ids[1]):016x}"


def _new_ids() -> None:
    _ids[:] = [secrets.token_hex(8), itertools.count()]


_ids: list[Any] = [None, None]
