"""The line decision: (physician record, institution record, day, exemption) → result. Pure.

Reasons are checked in SPEC.md's order; the first that applies is the line's reason:

    institution_suspended  reject  衢州 第十四条
    unknown_physician      reject  衢州 第十三条、第十五条
    disqualified           reject  衢州 第二十三条 (credit D)
    terminated             reject  衢州 第二十一条
    suspended              reject  衢州 第二十一条、第二十二条 / 苏州 第十六条
    no_agreement           reject  衢州 第八条、第十三条
    ok                     pass

Emergency or rescue turns any reject into a pass, ``emergency_exempt``, with ``would_reject``
naming the reason it replaced (衢州 第十五条).  ``unverified`` is the answer when the record
could not be read: a pass (fail_open) or a reject (fail_closed), per configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rules.model import OPEN_END, Action, InstitutionRecord, PhysicianRecord

__all__ = [
    "PASS",
    "REASONS",
    "REJECT",
    "LineDecision",
    "assess",
    "decide_line",
    "decide_unverified",
]

PASS = "pass"
REJECT = "reject"

#: Every reason code, with its decision, in the order they are checked.
REASONS: dict[str, str] = {
    "institution_suspended": REJECT,
    "unknown_physician": REJECT,
    "disqualified": REJECT,
    "terminated": REJECT,
    "suspended": REJECT,
    "no_agreement": REJECT,
    "ok": PASS,
    "emergency_exempt": PASS,
    "unverified": PASS,  # fail_open; fail_closed rejects
}

WATCH = "watch"  # 约谈 band (衢州 第二十一条) or credit C (第二十三条): pass, but look closer
EMERGENCY = "emergency"  # exemption claimed (急诊、抢救, 衢州 第十五条)
STALE = "stale"  # answered from a snapshot older than the configured bound

_SUSPENSIONS = (Action.SUSPEND.value, Action.SETTLEMENT_SUSPEND.value)


@dataclass(frozen=True, slots=True)
class LineDecision:
    decision: str
    reason: str
    basis: str | None = None
    until: int = 0  # day ordinal of the first day the line would pass again; 0 when not known
    flags: tuple[str, ...] = ()
    would_reject: str | None = None


def assess(
    physician: PhysicianRecord | None, institution: InstitutionRecord | None, institution_code: str, on: int
) -> tuple[str, int, bool]:
    """(reason, until, watch) of a line at ``institution_code`` on day ``on``, before exemptions."""
    if institution is not None and institution.sanctions:
        for s in institution.sanctions:  # 衢州 第十四条
            if s.start <= on < s.end:
                return "institution_suspended", (s.end if s.end < OPEN_END else 0), False
    if physician is None:
        return "unknown_physician", 0, False
    watch = False
    if physician.credits:
        level = ""
        for c in physician.credits:  # sorted by start: the last one started is in force
            if c.start <= on:
                level = c.level
        if level == "D":  # 衢州 第二十三条: 取消医保医师资格
            return "disqualified", 0, False
        watch = level == "C"
    covering = None
    for a in physician.agreements:
        if a.institution == institution_code and a.start <= on < a.end:
            covering = a
            break
    if physician.sanctions:
        terminated = None
        suspended_until = -1
        for s in physician.sanctions:
            if s.start > on:
                continue
            if s.action == Action.TERMINATE:
                terminated = s
            elif on < s.end:
                if s.action in _SUSPENSIONS:
                    suspended_until = max(suspended_until, s.end)
                elif s.action == Action.INTERVIEW:
                    watch = True
        # Agreements were clipped by the engine: one covering the day after a termination began
        # after it and is honoured from ban_until on (衢州 第二十一条).
        if terminated is not None and covering is None:
            until = _next_start(physician, institution_code, on) or (
                terminated.ban_until if terminated.ban_until > on else 0
            )
            return "terminated", until, watch
        if suspended_until >= 0:
            return "suspended", _chained_end(physician, suspended_until), watch
    if covering is None:
        return "no_agreement", _next_start(physician, institution_code, on), watch
    return "ok", 0, watch


def decide_line(
    physician: PhysicianRecord | None,
    institution: InstitutionRecord | None,
    institution_code: str,
    on: int,
    exempt: bool,
    basis: Mapping[str, str],
) -> LineDecision:
    reason, until, watch = assess(physician, institution, institution_code, on)
    flags = _flags(watch, exempt)
    if reason == "ok":
        return LineDecision(PASS, "ok", None, 0, flags, None)
    if exempt:
        return LineDecision(PASS, "emergency_exempt", basis.get("emergency_exempt"), 0, flags, reason)
    return LineDecision(REJECT, reason, basis.get(reason), until, flags, None)


def decide_unverified(fail_open: bool, exempt: bool, basis: Mapping[str, str]) -> LineDecision:
    flags = _flags(False, exempt)
    if fail_open:
        return LineDecision(PASS, "unverified", None, 0, flags, None)
    if exempt:
        return LineDecision(PASS, "emergency_exempt", basis.get("emergency_exempt"), 0, flags, "unverified")
    return LineDecision(REJECT, "unverified", None, 0, flags, None)


def _flags(watch: bool, exempt: bool) -> tuple[str, ...]:
    if watch:
        return (WATCH, EMERGENCY) if exempt else (WATCH,)
    return (EMERGENCY,) if exempt else ()


def _next_start(physician: PhysicianRecord, institution_code: str, on: int) -> int:
    starts = [a.start for a in physician.agreements if a.institution == institution_code and a.start > on]
    return min(starts, default=0)


def _chained_end(physician: PhysicianRecord, end: int) -> int:
    """End of back-to-back suspensions; 0 when one of them is open-ended."""
    moved = True
    while moved and end < OPEN_END:
        moved = False
        for s in physician.sanctions:
            if s.action in _SUSPENSIONS and s.start <= end < s.end:
                end, moved = s.end, True
    return end if end < OPEN_END else 0
