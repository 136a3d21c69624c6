"""Line verdicts, memoised: the hot path decides a (physician, day, exemption) once per snapshot.

A claim's line costs a Python loop's worth of work; deciding it (``decision.decide_line``) costs
~3 µs when the record has sanctions or credits, and even the plain case reads five attributes.
Most lines repeat: a hospital's physicians bill all day, on one service day.  So the answer of
a line, everything but its ``line_id``, is kept in a table per (snapshot, policy, institution,
staleness) under the key (physician code, day, exempt), with the record it was decided from:
a hit whose record is no longer the same object (an incremental sync swapped it in) is decided
again.  A new snapshot or policy starts new tables; tables are bounded (``MAX_ENTRIES``).

Decided from the whole snapshot (``records`` the cache's own mapping, nothing absent from it
unread: ``cache.async_reader.AsyncSnapshotReader.records_for`` with the snapshot held whole), a
hit needs no look at the record: the cache changes that mapping only when it installs a new
snapshot object (``cache.snapshot_cache.SnapshotCache.install``), which starts new tables.  So the
tables also remember the mapping they were filled from (``whole``; None: from partial reads, each
hit checked), a claim from another starts them anew, and such a claim skips the records probe
of a hit, the costliest step of a line over 100,000 records held (~1 µs: CPU cache misses).

Thread safety: a claim takes its table once; a reset makes new tables rather than clearing
the old, so a claim decided concurrently with a reset only fills a table nobody reads again.
"""

from __future__ import annotations

from typing import Any

import orjson

from cache.snapshot_cache import UNREAD
from gateway.check.decision import PASS, WATCH, LineDecision, decide_line
from gateway.check.grounds import Ground, grounds
from gateway.check.policy import Policy
from gateway.check.reasons import EMERGENCY_EXEMPT, OK
from rules.model import iso

__all__ = ["MAX_ENTRIES", "NEXT_LINE", "NEXT_ROW", "Table", "Verdict", "table_for", "verdict"]

#: Memoised lines, all tables of a snapshot together (~550 B each, measured): past it, tables start anew.
MAX_ENTRIES = 100_000

#: (record decided from, decision, reason, basis, until ISO, flags, would_reject, 1 if pass else 0, ban_until ISO,
#: grounds: the records behind it, the decision log's serialised line but for its ids, the answer's
#: serialised line after its line_id's text and the next line's opening (``gateway.check.core.ClaimResult.json``),
#: the code, the log entry's row after its line_id's text and the next row's opening
#: (``gateway.decisionlog.entries``), the (decision, reason) the metrics count, one tuple per outcome)
Verdict = tuple[Any, str, str, str | None, str | None, tuple[str, ...], str | None, int, str | None,
                tuple[Ground, ...], orjson.Fragment, bytes, str, bytes, tuple[str, str]]

#: What follows the last line's text in ``Verdict``'s element 11 and 13: cut from the last line.
NEXT_LINE = b',{"line_id":"'
NEXT_ROW = b',["'


Table = dict[str, Verdict]


class _Tables:
    __slots__ = ("snapshot", "policy", "whole", "by_context", "size")

    def __init__(self, snapshot: Any, policy: Any, whole: Any) -> None:
        self.snapshot = snapshot
        self.policy = policy
        self.whole = whole  # the whole snapshot's mapping every verdict was decided from; None: partial reads
        self.by_context: dict[tuple[str, int, bool, bool], Table] = {}
        self.size = 0


_current = _Tables(None, None, None)
#: One (decision, reason) tuple per outcome, shared by every verdict of it: the metrics count lines by
#: these (``gateway.observe.metrics``), and a dict finds a key by identity before it compares.
_OUTCOMES: dict[tuple[str, str], tuple[str, str]] = {}


def table_for(snapshot: Any, policy: Any, institution_code: str, on: int, exempt: bool, stale: bool,
              whole: Any = None) -> tuple[Table, bool]:
    """The table of lines at ``institution_code`` on day ``on`` under this snapshot and policy, and
    whether its hits hold without a look at the record: decided from ``whole``, the whole snapshot's
    mapping (None: records read in part, a hit's record is compared)."""
    global _current
    tables = _current
    if tables.snapshot is not snapshot or tables.policy is not policy or tables.whole is not whole or \
            tables.size >= MAX_ENTRIES:
        tables = _current = _Tables(snapshot, policy, whole)
    context = (institution_code, on, exempt, stale)
    table = tables.by_context.get(context)
    if table is None:
        table = tables.by_context[context] = {}
    return table, whole is not None


def verdict(table: Table, code: str, record: Any, institution: Any, institution_code: str, on: int, exempt: bool,
            stale: bool, policy: Policy) -> Verdict:
    """Decide the line of ``code`` from ``record`` and remember it in ``table``."""
    if record is UNREAD:
        d: LineDecision = policy.unverified(exempt)
    else:
        d = decide_line(record, institution, institution_code, on, exempt, policy.basis)
    decision, would_reject, flags = policy.answer(d, stale)  # shadow mode, staleness (gateway.check.policy)
    watch = WATCH in d.flags
    behind = d.would_reject if d.reason == EMERGENCY_EXEMPT else d.reason
    why = grounds(record, institution, on, behind or "", watch) if behind != OK or watch else ()
    until, ban_until = iso(d.until), iso(d.ban_until)
    # decision, reason, basis, until, ban_until, flags, would_reject, refs: the middle of a log entry's
    # line (gateway.decisionlog.entries), serialised once here; orjson copies a Fragment's bytes as they are.
    middle = orjson.dumps([decision, d.reason, d.basis, until, ban_until, flags, would_reject,
                           [ref for ref, _ in why]])[1:-1]
    # The answer's line after its line_id's text, closing quote first (``","physician_code":…}``), in
    # DecidedLine's field order, then the next line's opening: a claim's answer is its lines' id texts
    # and these joined, no object per line.  Likewise the log entry's row (``","code",middle],["``).
    shown = b'",' + orjson.dumps({"physician_code": code, "decision": decision, "reason": d.reason, "basis": d.basis,
                                  "until": until, "flags": flags, "would_reject": would_reject,
                                  "ban_until": ban_until})[1:] + NEXT_LINE
    row = b'",%b,%b]%b' % (orjson.dumps(code), middle, NEXT_ROW)
    outcome = _OUTCOMES.setdefault((decision, d.reason), (decision, d.reason))
    found: Verdict = (record, decision, d.reason, d.basis, until, flags, would_reject,
                      1 if decision == PASS else 0, ban_until, why, orjson.Fragment(middle), shown, code, row, outcome)
    table[code] = found
    _current.size += 1
    return found
