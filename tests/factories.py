"""Builders of facts for the rules tests: only what a test states differs from the defaults."""

from __future__ import annotations

from datetime import date

from rules.model import Agreement, ExplicitSanction, PhysicianFacts, Restoration, Violation

PHYSICIAN = "D330802000001"
SITE_A = "H33080200001"
SITE_B = "H33080200002"


def d(text: str) -> date:
    return date.fromisoformat(text)


def n(text: str) -> int:
    """A day ordinal from ISO text."""
    return date.fromisoformat(text).toordinal()


def violation(
    id: str,
    item: str,
    scored_on: str,
    *,
    case_id: str | None = None,
    act_id: str | None = None,
    institution: str = SITE_A,
    physician: str = PHYSICIAN,
    occurred_on: str | None = None,
) -> Violation:
    return Violation(
        id=id,
        physician_code=physician,
        institution_code=institution,
        item=item,
        case_id=case_id if case_id is not None else f"case-{id}",
        act_id=act_id,
        occurred_on=d(occurred_on or scored_on),
        scored_on=d(scored_on),
        basis_type="audit",
        basis_no=f"稽核-{id}",
    )


def series(items_and_days: list[tuple[str, str]]) -> tuple[Violation, ...]:
    """Violations ``v1, v2, ...`` of the given (item, scored_on), each its own case."""
    return tuple(violation(f"v{i}", item, day) for i, (item, day) in enumerate(items_and_days, 1))


def explicit(
    id: str, action: str, start: str, end: str | None = None, ban_until: str | None = None
) -> ExplicitSanction:
    return ExplicitSanction(
        id=id,
        physician_code=PHYSICIAN,
        action=action,
        start=d(start),
        end=d(end) if end else None,
        ban_until=d(ban_until) if ban_until else None,
        basis=f"决定书-{id}",
    )


def facts(
    violations: tuple[Violation, ...] = (),
    *,
    sanctions: tuple[ExplicitSanction, ...] = (),
    restorations: tuple[str, ...] = (),
    agreements: tuple[Agreement, ...] = (),
) -> PhysicianFacts:
    return PhysicianFacts(
        code=PHYSICIAN,
        agreements=agreements,
        violations=violations,
        sanctions=sanctions,
        restorations=tuple(Restoration(PHYSICIAN, d(day)) for day in restorations),
    )
