"""Facts of the officers' workflow: appeals, revocations and served notices, beside the points.

The rules engine reads a physician's facts with revoked rows removed (``PhysicianFacts``).
Notices survive revocations (a notice owed stays owed; the revocation owes one of its own), so the
workflow reads the rows *with* the revoked ones and the revocations themselves
(``rules.store.workflow_reads``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.model import Agreement, ExplicitSanction, Violation

__all__ = ["Appeal", "Revocation", "ServedNotice", "WorkflowFacts"]


@dataclass(frozen=True, slots=True)
class Appeal:
    """异议 against a violation or a sanction (衢州 第二十七条); decided when ``outcome`` is set."""

    id: str
    physician_code: str
    target_id: str
    filed_on: date
    decided_on: date | None = None
    outcome: str | None = None  # "upheld" (the target is revoked) | "rejected"


@dataclass(frozen=True, slots=True)
class Revocation:
    target_id: str
    revoked_on: date
    reason: str


@dataclass(frozen=True, slots=True)
class ServedNotice:
    id: str
    served_on: date
    channel: str  # written | sms | system (衢州 第二十一条 以书面或系统发送短信方式)


@dataclass(frozen=True, slots=True)
class WorkflowFacts:
    """One physician's workflow: violations and sanctions revoked or not, and what annulled them."""

    code: str
    agreements: tuple[Agreement, ...] = ()
    violations: tuple[Violation, ...] = ()  # revoked ones included
    sanctions: tuple[ExplicitSanction, ...] = ()  # revoked ones included
    revocations: tuple[Revocation, ...] = ()  # of this physician's violations and sanctions
    appeals: tuple[Appeal, ...] = ()
    served: tuple[ServedNotice, ...] = ()

    def revoked(self) -> dict[str, str]:
        """Revoked target id -> what revoked it (``revocation`` or ``appeal A-1``)."""
        found = {r.target_id: "revocation" for r in self.revocations}
        for a in self.appeals:
            if a.outcome == "upheld":
                found.setdefault(a.target_id, f"appeal {a.id}")
        return found
