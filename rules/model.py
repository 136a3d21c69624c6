"""Domain records: what the store holds, what the engine computes, what the cache publishes.

Days are proleptic Gregorian ordinals (`date.toordinal()`), Asia/Shanghai calendar days.
Intervals are half-open, ``[start, end)``: ``end`` is the first day allowed again, and an
open-ended interval has ``end == OPEN_END``.  Ints keep the hot path free of date objects.

Two families live here:
- *facts* (``Violation``, ``ExplicitSanction``, ``Restoration``, ``CreditEntry``): rows of the
  scoring store, input of the rules engine;
- *records* (``Agreement``, ``Sanction``, ``Credit``, ``PhysicianRecord``,
  ``InstitutionRecord``): the engine's output, published by the sync, read by the gateway and
  fed to the pure line decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

__all__ = [
    "OPEN_END",
    "Action",
    "Agreement",
    "Credit",
    "CreditEntry",
    "ExplicitSanction",
    "InstitutionRecord",
    "PhysicianFacts",
    "PhysicianRecord",
    "Restoration",
    "Revoked",
    "Sanction",
    "Violation",
    "day",
    "day_or_open",
    "iso",
]

#: ``end`` of an open-ended interval: one past ``date.max``.
OPEN_END = date.max.toordinal() + 1


def day(value: date) -> int:
    return value.toordinal()


def day_or_open(value: date | None) -> int:
    return OPEN_END if value is None else value.toordinal()


def iso(value: int) -> str | None:
    """ISO date of a day, ``None`` for an open end or an absent day (0)."""
    if value <= 0 or value >= OPEN_END:
        return None
    return date.fromordinal(value).isoformat()


class Action(StrEnum):
    INTERVIEW = "interview"  # 约谈: a watch flag on checks, not a rejection
    SUSPEND = "suspend"  # 暂停医保医师服务协议
    TERMINATE = "terminate"  # 解除服务协议
    SETTLEMENT_SUSPEND = "settlement_suspend"  # 中止医保结算 (苏州 第十六条)


# -- records: published to the cache, read by the decision -------------------------------


@dataclass(frozen=True, slots=True)
class Agreement:
    """医保医师服务协议 at one institution; multi-site practice has several (衢州 第八条)."""

    institution: str
    start: int
    end: int = OPEN_END


@dataclass(frozen=True, slots=True)
class Sanction:
    """A sanction in force, explicit (from the store) or computed by the engine.

    ``end`` is the effective end: for 衢州 a suspension whose restoration was not requested in
    time has ``OPEN_END`` (第二十二条).  ``ban_until`` (terminate only, else 0) is the first day a
    new agreement is honoured again.
    """

    action: str
    start: int
    end: int = OPEN_END
    ban_until: int = 0
    article: str = ""
    computed: bool = False
    ref: str = ""  # sanction id in the store, or the engine's id of a computed one


@dataclass(frozen=True, slots=True)
class Credit:
    """医保信用等级 effective from a day until the next entry (衢州 第二十三条)."""

    level: str
    start: int


@dataclass(frozen=True, slots=True)
class PhysicianRecord:
    code: str
    agreements: tuple[Agreement, ...] = ()
    sanctions: tuple[Sanction, ...] = ()
    credits: tuple[Credit, ...] = ()  # sorted by start
    points: tuple[tuple[int, int], ...] = ()  # (year, points) of the years with points, for the help desk


@dataclass(frozen=True, slots=True)
class InstitutionRecord:
    code: str
    sanctions: tuple[Sanction, ...] = ()  # suspend / terminate of the 定点服务协议 (衢州 第十四条)


# -- facts: rows of the scoring store, input of the engine --------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    id: str
    physician_code: str
    institution_code: str
    item: str  # catalog item id of the profile, e.g. "19.5"
    case_id: str
    act_id: str | None
    occurred_on: date
    scored_on: date
    basis_type: str
    basis_no: str


@dataclass(frozen=True, slots=True)
class ExplicitSanction:
    id: str
    physician_code: str
    action: str
    start: date
    end: date | None
    ban_until: date | None
    basis: str


@dataclass(frozen=True, slots=True)
class Restoration:
    """恢复服务协议申请 filed on a day (衢州 第二十二条)."""

    physician_code: str
    filed_on: date


@dataclass(frozen=True, slots=True)
class CreditEntry:
    physician_code: str
    level: str
    effective_from: date


@dataclass(frozen=True, slots=True)
class Revoked:
    """A violation or sanction annulled by a revocation on ``revoked_on``.

    It no longer counts; it is kept to tell which suspensions a revocation created or changed
    (their restoration window opens no earlier than the revocation, 衢州 第二十二条).
    """

    fact: Violation | ExplicitSanction
    revoked_on: date


@dataclass(frozen=True, slots=True)
class PhysicianFacts:
    """Everything the store knows of one physician; revoked rows are out of ``violations`` and
    ``sanctions`` and in ``revoked``."""

    code: str
    agreements: tuple[Agreement, ...] = ()
    violations: tuple[Violation, ...] = ()
    sanctions: tuple[ExplicitSanction, ...] = ()
    restorations: tuple[Restoration, ...] = ()
    credits: tuple[CreditEntry, ...] = ()
    revoked: tuple[Revoked, ...] = ()
