"""The line decision: (physician record, institution record, day, exemption) → result. Pure.

Reasons are checked in the order of the decision table (docs/decision.md; each reason, its
decision and the profile key of its article are declared once, in ``gateway.check.reasons``);
the first that applies is the line's reason: the institution's suspension, then its termination
(衢州 第十四条), an unknown physician, credit D, a termination, a suspension, no agreement; else ``ok``.

Emergency or rescue turns any reject into a pass, ``emergency_exempt``, with ``would_reject``
naming the reason it replaced (衢州 第十五条).  ``unverified`` is the answer when the record
could not be read: a pass (fail_open) or a reject (fail_closed), per configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.check.reasons import (
    DISQUALIFIED,
    EMERGENCY_EXEMPT,
    INSTITUTION_SUSPENDED,
    INSTITUTION_TERMINATED,
    NO_AGREEMENT,
    OK,
    PASS,
    REJECT,
    SUSPENDED,
    TERMINATED,
    UNKNOWN_PHYSICIAN,
    UNVERIFIED,
)
from rules.model import OPEN_END, Action, InstitutionRecord, PhysicianRecord

__all__ = [
    "PASS",
    "REJECT",
    "LineDecision",
    "assess",
    "decide_line",
    "decide_unverified",
]

WATCH = "watch"  # 约谈 band (衢州 第二十一条) or credit C (第二十三条): pass, but look closer
EMERGENCY = "emergency"  # exemption claimed (急诊、抢救, 衢州 第十五条)
STALE = "stale"  # answered from a snapshot older than the configured bound

_SUSPENSIONS = (Action.SUSPEND.value, Action.SETTLEMENT_SUSPEND.value)


@dataclass(frozen=True, slots=True)
class LineDecision:
    decision: str
    reason: str
    basis: str | None = None
    until: int = 0  # day ordinal of the first day the line passes again by itself; 0 when none is known
    flags: tuple[str, ...] = ()
    would_reject: str | None = None
    ban_until: int = 0  # end of the termination ban that binds (衢州 第二十一条); 0 when none


#: How many obstacles ``until`` follows (a suspension, then no agreement until a later one, ...).
_MAX_STEPS = 8


def assess(
    physician: PhysicianRecord | None, institution: InstitutionRecord | None, institution_code: str, on: int
) -> tuple[str, int, int, bool]:
    """(reason, until, ban_until, watch) of a line at ``institution_code`` on day ``on``, before exemptions.

    ``until`` is the first day after ``on`` on which the line passes by itself, without a record
    yet to come: each obstacle names the earliest day it could be gone (a suspension's end, the
    start of a recorded agreement, a better credit rating), and the line is decided again on that
    day until it passes or an obstacle has no end.  A ban's end is not such a day: a dissolved
    agreement (解除) does not come back, a new one must be recorded (``ban_until`` tells when it may start).
    """
    reason, step, watch = _obstacle(physician, institution, institution_code, on)
    if reason == OK:
        return reason, 0, 0, watch
    until, day = 0, on
    for _ in range(_MAX_STEPS):
        if step <= day or step >= OPEN_END:
            break
        again, later, _watch = _obstacle(physician, institution, institution_code, step)
        if again == OK:
            until = step
            break
        day, step = step, later
    return reason, until, _binding_ban(physician, on), watch


def _binding_ban(physician: PhysicianRecord | None, on: int) -> int:
    """The latest ``ban_until`` of the terminations begun by ``on`` that still bind then (衢州 第二十一条)."""
    if physician is None or not physician.sanctions:
        return 0
    ban = max((s.ban_until for s in physician.sanctions if s.action == Action.TERMINATE and s.start <= on), default=0)
    return ban if ban > on else 0


def _obstacle(
    physician: PhysicianRecord | None, institution: InstitutionRecord | None, institution_code: str, on: int
) -> tuple[str, int, bool]:
    """(reason, the earliest day the reason could be gone or 0, watch) on day ``on``."""
    # 衢州 第十四条: an institution's termination (解除) dissolves the agreements there that began
    # on or before it, for good; its suspension only holds them while it lasts.
    dissolved_through = -1
    if institution is not None and institution.sanctions:
        terminated_until = -1
        for s in institution.sanctions:
            if s.start > on:
                continue
            if s.action == Action.TERMINATE:
                dissolved_through = max(dissolved_through, s.start)
                if on < s.end:
                    terminated_until = max(terminated_until, s.end)
            elif on < s.end:
                return INSTITUTION_SUSPENDED, s.end, False
        if terminated_until >= 0:
            return INSTITUTION_TERMINATED, terminated_until, False
    if physician is None:
        return UNKNOWN_PHYSICIAN, 0, False
    watch = False
    if physician.credits:
        level = ""
        better = 0
        for c in physician.credits:  # sorted by start: the last one started is in force
            if c.start <= on:
                level = c.level
            elif c.level != "D" and not better:
                better = c.start
        if level == "D":  # 衢州 第二十三条: 取消医保医师资格
            return DISQUALIFIED, better, False
        watch = level == "C"
    covering = False
    for a in physician.agreements:
        if a.institution == institution_code and a.start <= on < a.end and a.start > dissolved_through:
            covering = True
            break
    if physician.sanctions:
        terminated = False
        suspended_until = -1
        for s in physician.sanctions:
            if s.start > on:
                continue
            if s.action == Action.TERMINATE:
                terminated = True
            elif on < s.end:
                if s.action in _SUSPENSIONS:
                    suspended_until = max(suspended_until, s.end)
                elif s.action == Action.INTERVIEW:
                    watch = True
        # Agreements were clipped by the engine: one covering the day after a termination began
        # after it and is honoured from ban_until on (衢州 第二十一条).
        if terminated and not covering:
            return TERMINATED, _next_start(physician, institution_code, on, dissolved_through), watch
        if suspended_until >= 0:
            return SUSPENDED, suspended_until, watch
    if not covering:
        return NO_AGREEMENT, _next_start(physician, institution_code, on, dissolved_through), watch
    return OK, 0, watch


def decide_line(
    physician: PhysicianRecord | None,
    institution: InstitutionRecord | None,
    institution_code: str,
    on: int,
    exempt: bool,
    basis: Mapping[str, str],
) -> LineDecision:
    reason, until, ban_until, watch = assess(physician, institution, institution_code, on)
    flags = _flags(watch, exempt)
    if reason == OK:
        return LineDecision(PASS, OK, None, 0, flags, None)
    if exempt:
        return LineDecision(PASS, EMERGENCY_EXEMPT, basis.get(EMERGENCY_EXEMPT), 0, flags, reason)
    return LineDecision(REJECT, reason, basis.get(reason), until, flags, None, ban_until)


def decide_unverified(fail_open: bool, exempt: bool, basis: Mapping[str, str]) -> LineDecision:
    flags = _flags(False, exempt)
    if fail_open:
        return LineDecision(PASS, UNVERIFIED, None, 0, flags, None)
    if exempt:
        return LineDecision(PASS, EMERGENCY_EXEMPT, basis.get(EMERGENCY_EXEMPT), 0, flags, UNVERIFIED)
    return LineDecision(REJECT, UNVERIFIED, None, 0, flags, None)


def _flags(watch: bool, exempt: bool) -> tuple[str, ...]:
    if watch:
        return (WATCH, EMERGENCY) if exempt else (WATCH,)
    return (EMERGENCY,) if exempt else ()


def _next_start(physician: PhysicianRecord, institution_code: str, on: int, dissolved_through: int) -> int:
    starts = [a.start for a in physician.agreements
              if a.institution == institution_code and a.start > on and a.start > dissolved_through]
    return min(starts, default=0)
