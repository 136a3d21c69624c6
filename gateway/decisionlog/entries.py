"""Decision-log entries: what the gateway appends to the stream and the archiver stores.

An entry is one JSON object (the stream field ``d``), serialised at append (bytes, outside the
cyclic GC).  Its ``kind`` says what it records; an entry without ``kind`` is a ``decision``.

kind ``decision`` (every answer of every front)::

    v         3 (this layout; 2 had no ban_until in its lines, 1 was shorter still)
    kind      "decision"
    id        decision_id returned to the caller
    at        time received, Unix milliseconds
    front     v1 | nhsa2204 | nhsa2301 | nhsa3101 | nhsa3102 | inprocess
    caller    the API key's name (``key:`` + the first 12 hex of its SHA-256 digest), null when keys are off
    claim     the caller's claim_id (the national platform's msgid)
    mdtrt     [mdtrt_id, ...] of the national platform's lines, else null
    inst      institution code (定点医疗机构代码)
    days      [first, last] service day, ISO
    decision  pass | reject | partial
    enforced  true, or false in shadow mode
    fail      open | closed (the unverified policy)
    profile   city profile, e.g. quzhou-2020
    snapshot  the snapshot decided on: its publication id (null when none was held)
    generation, version   its generation and version, for people (counters may repeat; the id never does)
    lines     [[line_id, code, decision, reason, basis, until, ban_until, flags, would_reject, refs(, resolved,
              day)], ...]
              code: as sent; ban_until: the end of the termination ban that binds (rejections only);
              refs: ids of the records behind the answer (keys of ``grounds``);
              resolved and day only when either is known: the 医保医师代码 the code resolved to
              (null when the code sent), the line's own service day (null when the claim's)
    grounds   {ref: row} of every record any line cites (``gateway.check.grounds``)

kind ``feedback`` (3103 事前事中分析反馈, ``gateway.formats.nhsa.feedback``: a doctor's answer to a result)::

    kind      "feedback"
    id        the decision_id of the decision answered
    at        time received, Unix milliseconds
    front     optional, default nhsa3103; caller optional
    ...       everything else is the feedback's body: claim (the 3103 msgid), result (the result's
              jr_id), warn_type, way, reason for the NHSA front

The archiver attaches a feedback entry to its decision (``decision_feedback``, keyed by the
entry's digest: the same entry delivered twice is kept once); one whose decision is not archived
(yet) is kept all the same and shown once the decision arrives.
No names or other personal data: physician and institution codes, claim and line ids only.
"""

from __future__ import annotations

import hashlib
from datetime import date
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson

from cache.snapshot_cache import Snapshot
from gateway.check.core import Audit, ClaimResult
from gateway.check.verdicts import NEXT_ROW
from gateway.errors import EntryError
from rules.model import iso
from rules.store.archive.chain import ArchivedDecision, ArchivedFeedback

__all__ = ["DECISION", "FEEDBACK", "LAYOUT", "caller_name", "decision_entry", "feedback_entry",
           "parse_entry", "received_day"]

LAYOUT = 3
DECISION = "decision"
FEEDBACK = "feedback"


_GROUNDS, _LOGGED, _CODE, _ROW = itemgetter(9), itemgetter(10), itemgetter(12), itemgetter(13)  # of a verdict
_JOINED = b"".join
_ISO_DAYS: dict[int, str | None] = {}  # day ordinal -> ISO: date.fromordinal().isoformat() costs ~1.5 µs


def _iso_day(day: int) -> str | None:
    found = _ISO_DAYS.get(day)
    if found is None:
        found = iso(day)
        if len(_ISO_DAYS) < 100_000:  # service days of a few years: never reached
            _ISO_DAYS[day] = found
    return found


def caller_name(digest_hex: str) -> str:
    """The name a caller's key goes by in the log: a prefix of its digest (which the settings
    already hold), never the key.  12 hex digits: 48 bits, no collision among a city's callers."""
    return f"key:{digest_hex[:12]}"


def decision_entry(at: float, result: ClaimResult, front: str, caller: str | None,
                   mdtrt: list[str] | None = None, sent: list[str] | None = None, *, fail_open: bool = True,
                   profile: str = "") -> bytes:
    """The entry of ``result``; ``sent``: each line's code as sent, when it was resolved (aliases)."""
    audit = result.audit
    if audit is not None and audit[2] is None and sent is None:  # the lines' own terms: the claim's
        lines = _lines(result, audit)
        if lines is not None:
            return _joined(at, result, audit, lines, front, caller, mdtrt, fail_open, profile)
    cited: dict[str, Any] = {}
    if audit is None:  # a result built by hand (tests, tools): the answer's own fields only
        rows: list[Any] = [[x.line_id, x.physician_code, x.decision, x.reason, x.basis, x.until, x.ban_until,
                            x.flags, x.would_reject, ()] for x in result.lines]
        first = last = None
        inst = snap_id = generation = None
    else:
        inst, low, own, verdicts, snapshot, line_ids = audit
        cited = dict(chain.from_iterable(filter(None, map(_GROUNDS, verdicts))))  # in the lines' order, each ref once
        high = low
        # Lines of their own days, codes as sent, ids that need an escape: the line's answer serialised
        # once per memoised verdict (its element 10, gateway.check.verdicts), a three-item tuple a line
        # zipped in C (measured: 35 µs a 20-line entry built field by field).
        rows = list(zip(line_ids, map(_CODE, verdicts), map(_LOGGED, verdicts), strict=True))
        if own:
            for n, on in own.items():
                rows[n] += (None, iso(on))
            low, high = min(low, *own.values()), max(high, *own.values())
        if sent is not None:
            for n, code in enumerate(sent):
                if code != rows[n][1]:
                    row = rows[n]
                    rows[n] = [row[0], code, row[2], row[1], row[4] if len(row) > 3 else None]
        first, last = _iso_day(low), _iso_day(high)
        snap_id = snapshot.id if snapshot is not None else None
        generation = snapshot.generation if snapshot is not None else None
    version = result.snapshot.get("version")
    return orjson.dumps({
        "v": LAYOUT, "kind": DECISION, "id": result.decision_id, "at": int(at * 1000), "front": front,
        "caller": caller, "claim": result.claim_id, "mdtrt": mdtrt, "inst": inst, "days": [first, last],
        "decision": result.decision, "enforced": result.enforced, "fail": "open" if fail_open else "closed",
        "profile": profile, "snapshot": snap_id, "generation": generation, "version": version,
        "lines": rows, "grounds": cited,
    })


def _lines(result: ClaimResult, audit: Audit) -> list[bytes] | None:
    """The entry's ``lines`` as pieces to join: each line's ``line_id`` text and its verdict's row
    (element 13, ``gateway.check.verdicts``), no object a line; None when an id needs an escape."""
    line_ids = audit[5]
    if len(line_ids) == 1:  # most claims: its id serialised alone, no texts to cut
        lines = [b"[[", orjson.dumps(line_ids[0])[:-1], audit[3][0][13]]
    else:
        texts = result.line_id_texts()  # the answer's too (ClaimResult.json): cut once
        if texts is None:
            return None
        lines = texts * 2
        lines[::2] = texts
        lines[1::2] = map(_ROW, audit[3])
        lines.insert(0, b'[["')
    lines[-1] = lines[-1][:-_NEXT_ROW]  # the last row: no next one
    return lines


def _joined(at: float, result: ClaimResult, audit: Audit, lines: list[bytes], front: str, caller: str | None,
            mdtrt: list[str] | None, fail_open: bool, profile: str) -> bytes:
    """``decision_entry``'s bytes in one join (one copy of its ~1.5 KB at 20 lines): its head, the
    fields that stay with the snapshot and the log's settings, written once for all its entries
    (``_settled``), ``lines`` (``_lines``: a 20-line entry ~1.5 µs faster than orjson writing
    three-item rows), its grounds."""
    inst, day, _, verdicts, snapshot, _ = audit
    cited = dict(chain.from_iterable(filter(None, map(_GROUNDS, verdicts))))  # in the lines' order, each ref once
    first = _iso_day(day)
    head = orjson.dumps({"v": LAYOUT, "kind": DECISION, "id": result.decision_id, "at": int(at * 1000),
                         "front": front, "caller": caller, "claim": result.claim_id, "mdtrt": mdtrt, "inst": inst,
                         "days": [first, first], "decision": result.decision, "enforced": result.enforced})
    return _JOINED((head[:-1], _settled(snapshot, fail_open, profile), *lines, b'],"grounds":',
                    orjson.dumps(cited) if cited else b"{}", b"}"))


_NEXT_ROW = len(NEXT_ROW)
_SETTLED: tuple[Any, bytes] = (None, b"")  # (snapshot, fail_open, profile) -> its fields, the last one asked


def _settled(snapshot: Snapshot | None, fail_open: bool, profile: str) -> bytes:
    """``fail``, ``profile``, ``snapshot``, ``generation`` and ``version`` as an entry writes them
    between its head and its lines: the same for every entry until the next snapshot."""
    global _SETTLED
    key, found = _SETTLED
    if key is None or key[0] is not snapshot or key[1] is not fail_open or key[2] != profile:
        found = orjson.dumps({"fail": "open" if fail_open else "closed", "profile": profile,
                              "snapshot": None if snapshot is None else snapshot.id,
                              "generation": None if snapshot is None else snapshot.generation,
                              "version": None if snapshot is None else snapshot.version})
        found = b",%b,\"lines\":" % found[1:-1]
        _SETTLED = ((snapshot, fail_open, profile), found)
    return found


def feedback_entry(at: float, decision_id: str, body: dict[str, Any], front: str = "nhsa3103",
                   caller: str | None = None) -> dict[str, Any]:
    """A ``feedback`` entry on ``decision_id`` (``DecisionLog.append_entry`` serialises it)."""
    return {**body, "kind": FEEDBACK, "id": decision_id, "at": int(at * 1000), "front": front, "caller": caller}


# -- reading entries back (the archiver) ---------------------------------------------------------


_DAY_MS = 86_400_000
_CHINA_MS = 8 * 3_600_000
_EPOCH = date(1970, 1, 1).toordinal()
_RECEIVED: dict[int, date] = {}  # Asia/Shanghai day number -> date: a batch's entries share one or two
_RECEIVED_ISO: dict[date, str] = {}  # those days in ISO: isoformat() a decision cost ~0.2 µs
_CHECKED: dict[Any, str] = {}  # ISO days already checked: a city's service days repeat all day


def received_day(at_ms: int) -> date:
    """The Asia/Shanghai day of ``at_ms`` (UTC+8 all year: no daylight saving since 1991)."""
    number = (at_ms + _CHINA_MS) // _DAY_MS
    found = _RECEIVED.get(number)
    if found is None:
        found = date.fromordinal(_EPOCH + number)
        if len(_RECEIVED) < 10_000:
            _RECEIVED[number] = found
    return found


def _day(value: Any) -> str | None:
    """An ISO day as the archive stores it; anything else is not an entry."""
    if value is None:
        return None
    found = _CHECKED.get(value)
    if found is None:
        found = date.fromisoformat(value).isoformat()
        if len(_CHECKED) < 100_000:
            _CHECKED[value] = found
    return found


def parse_entry(raw: bytes) -> ArchivedDecision | ArchivedFeedback:
    """The archive's rows of one entry; ``EntryError`` naming the field that is wrong."""
    try:
        e = orjson.loads(raw)
        if not isinstance(e, dict):
            raise EntryError("not a JSON object")
        if e.get("kind", DECISION) == FEEDBACK:
            return _feedback(e, raw)
        return _decision(e)
    except EntryError:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise EntryError(f"{type(exc).__name__}: {exc}") from exc


def _decision(e: dict[str, Any]) -> ArchivedDecision:
    decision_id, at = str(e["id"]), int(e["at"])
    received = received_day(at)
    day = _RECEIVED_ISO.get(received) or received.isoformat()
    if len(_RECEIVED_ISO) < 10_000:
        _RECEIVED_ISO[received] = day
    layout = int(e.get("v", 1))
    lines = e["lines"]
    if layout == 1:  # [line_id, decision, reason, would_reject]
        lines = [[x[0], "", x[1], x[2], None, None, None, [], x[3], []] for x in lines]
    elif layout == 2:  # no ban_until
        lines = [[*x[:6], None, *x[6:]] for x in lines]
    # Each line straight in its packed form (chain.pack_lines: LINE_FIELDS from n, ban_until only
    # when set), no call per field when it is absent, the optional tail (resolved, day) read where it
    # is: the archive stores and hashes these bytes, so no row a line is built and then cut again.
    packed = [(n, str(line_id), str(code), tail[0] if tail else None, tail[1] and _day(tail[1]) if tail else None,
               decision, reason, basis, until and _day(until), ",".join(flags) if flags else "", would_reject,
               ",".join(refs) if refs else "") if ban_until is None else
              (n, str(line_id), str(code), tail[0] if tail else None, tail[1] and _day(tail[1]) if tail else None,
               decision, reason, basis, until and _day(until), ",".join(flags) if flags else "", would_reject,
               ",".join(refs) if refs else "", ban_until and _day(ban_until))
              for n, (line_id, code, decision, reason, basis, until, ban_until, flags, would_reject, refs, *tail)
              in enumerate(lines)]
    grounds = []
    for ref, g in sorted((e.get("grounds") or {}).items()):
        kind, action, start, end, ban_until, article, computed = g
        grounds.append((day, decision_id, str(ref), str(kind), str(action), _day(start), _day(end), _day(ban_until),
                        str(article or ""), bool(computed)))
    first, last = e.get("days") or (None, None)
    mdtrt = e.get("mdtrt")
    row = (day, decision_id, at, str(e.get("front", "v1")), e.get("caller"), str(e["claim"]),
           ",".join(mdtrt) if mdtrt else None, e.get("inst"), _day(first), _day(last), str(e["decision"]),
           bool(e["enforced"]), str(e.get("fail", "open")), str(e.get("profile", "")), e.get("snapshot"),
           e.get("generation"), e.get("version"), len(packed))
    physicians = (packed[0][2],) if len(packed) == 1 else tuple(dict.fromkeys(map(_PACKED_CODE, packed)))
    return ArchivedDecision(received, row, orjson.dumps(packed), physicians, grounds)


_PACKED_CODE = itemgetter(2)  # of a packed line: its code (chain.LINE_FIELDS from n)


_ENVELOPE = frozenset(("v", "kind", "id", "at", "front", "caller"))


def _feedback(e: dict[str, Any], raw: bytes) -> ArchivedFeedback:
    at = int(e["at"])
    body = {k: v for k, v in e.items() if k not in _ENVELOPE}
    return ArchivedFeedback({"feedback_id": hashlib.sha256(raw).hexdigest()[:32], "decision_id": str(e["id"]),
                             "day": received_day(at), "received_at": at, "front": str(e.get("front") or "nhsa3103"),
                             "caller": e.get("caller"), "body": orjson.dumps(body).decode()})
