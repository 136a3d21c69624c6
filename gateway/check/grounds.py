"""Grounds of a line's answer: the records in the snapshot that decided it, for the decision log.

``grounds`` names, for a line's reason, the sanctions, credit or institution sanction behind it,
each as ``(ref, row)``: what the archive keeps, so that a decision can be explained months later,
after the store has changed or the record was revoked.  Pure, and computed once per memoised
verdict (``gateway.check.verdicts``), never per line.

    ref                          row
    <sanction id> | auto:Y:act   ["sanction", action, start, end, ban_until, article, computed]
    <institution sanction id>    ["institution_sanction", action, start, end, null, article, false]
    credit:<effective_from>      ["credit", level, start, null, null, article, false]

Dates are ISO days (``null`` open).  A sanction's ref is its id in the store (the import's ``id``)
or, computed by the engine, ``auto:<year>:<action>`` (``rules.sanctions.computed_ref``); a credit
has no id in the store, its natural key (physician, ``effective_from``) names it.
"""

from __future__ import annotations

from typing import Any

from gateway.check.reasons import DISQUALIFIED, INSTITUTION_SUSPENDED, SUSPENDED, TERMINATED
from rules.model import Action, InstitutionRecord, PhysicianRecord, Sanction, iso

__all__ = ["Ground", "grounds"]

#: (ref, row) of one record behind a line's answer.
Ground = tuple[str, tuple[Any, ...]]

_SUSPENSIONS = (Action.SUSPEND.value, Action.SETTLEMENT_SUSPEND.value)
_CREDIT_ARTICLE = "衢州 第二十三条"


def _sanction(kind: str, s: Sanction) -> Ground:
    ban = iso(s.ban_until) if kind == "sanction" else None
    return s.ref, (kind, s.action, iso(s.start), iso(s.end), ban, s.article, s.computed)


def grounds(physician: Any, institution: InstitutionRecord | None, on: int, reason: str,
            watch: bool) -> tuple[Ground, ...]:
    """The records behind ``reason`` (the reason before exemption and shadow mode) on day ``on``,
    and behind the ``watch`` flag; () for a plain pass, an unknown physician or an unread record."""
    found: list[Ground] = []
    if reason == INSTITUTION_SUSPENDED and institution is not None:
        found.extend(_sanction("institution_sanction", s) for s in institution.sanctions if s.start <= on < s.end)
    if not isinstance(physician, PhysicianRecord):
        return tuple(found)
    if reason == DISQUALIFIED or watch:
        credit = None
        for c in physician.credits:  # sorted by start: the last one started is in force
            if c.start <= on:
                credit = c
        if credit is not None and credit.level in ("C", "D"):
            found.append((f"credit:{iso(credit.start)}",
                          ("credit", credit.level, iso(credit.start), None, None, _CREDIT_ARTICLE, False)))
    for s in physician.sanctions:
        if s.start > on:
            continue
        ended = reason == TERMINATED and s.action == Action.TERMINATE
        in_force = on < s.end and ((reason == SUSPENDED and s.action in _SUSPENSIONS)
                                   or (watch and s.action == Action.INTERVIEW))
        if ended or in_force:
            found.append(_sanction("sanction", s))
    return tuple(found)
