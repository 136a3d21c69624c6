"""The points ledger: a physician's violations in, the points each one adds, per calendar year.

Points accumulate per physician per calendar year of ``scored_on`` and reset on 1 January
(衢州 第十六条, 苏州 第七条); violations at every institution add up (多点执业, 衢州 第十六条,
苏州 第七条 第三款).  Revoked violations are removed by the store before they reach here.

Counting depends on the profile:
- ``every_occurrence`` (衢州 第十七条至第二十条 "每次计扣"): every violation adds its item's points.
- ``per_case`` (苏州 第十四条): within one ``case_id`` an item counts once however often it occurs,
  different items add up; then one act (``act_id``) that matches several items counts once, at the
  highest of them.  Violations are taken in ``(scored_on, id)`` order; a repeat of a (case, item)
  already counted adds nothing, and a further item of a counted act adds only what it raises the
  act's points by.  So the running total never goes down, and the points of a case or an act are
  counted in the year they were first scored (a later, higher item of the same act adds the
  difference in its own year).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rules.model import Violation
from rules.profiles import Profile

__all__ = ["Entry", "entries", "year_totals"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One violation as the ledger counts it."""

    violation_id: str
    day: int  # scored_on, as an ordinal
    year: int  # calendar year of scored_on: the scoring period
    item: str
    item_points: int  # the catalog's points for the item (一次性扣 12 分 is read from this)
    points: int  # what it adds to the year's total after the profile's counting rule (0 if absorbed)


def entries(profile: Profile, violations: Iterable[Violation]) -> tuple[Entry, ...]:
    """Every violation in ``(scored_on, id)`` order with the points it adds."""
    ordered = sorted(violations, key=lambda v: (v.scored_on, v.id))
    if profile.counting == "per_case":
        return tuple(_per_case(profile, ordered))
    return tuple(_entry(v, profile.item(v.item).points, profile.item(v.item).points) for v in ordered)


def year_totals(ledger: Iterable[Entry]) -> dict[int, int]:
    """Year of ``scored_on`` -> the physician's points, all institutions together; years without a
    counted violation are absent (衢州 第十六条: the points start again each calendar year)."""
    totals: dict[int, int] = {}
    for entry in ledger:
        totals[entry.year] = totals.get(entry.year, 0) + entry.points
    return totals


def _per_case(profile: Profile, ordered: list[Violation]) -> list[Entry]:
    # 苏州 第十四条 第一款: the same item within one case counts once.
    counted: set[tuple[str, str]] = set()
    # 苏州 第十四条 第二款: one act matching several items counts once, at the highest.
    act_points: dict[str, int] = {}
    result: list[Entry] = []
    for violation in ordered:
        item_points = profile.item(violation.item).points
        key = (violation.case_id, violation.item)
        if key in counted:
            result.append(_entry(violation, item_points, 0))
            continue
        counted.add(key)
        if not violation.act_id:
            result.append(_entry(violation, item_points, item_points))
            continue
        before = act_points.get(violation.act_id, 0)
        after = max(before, item_points)
        act_points[violation.act_id] = after
        result.append(_entry(violation, item_points, after - before))
    return result


def _entry(violation: Violation, item_points: int, points: int) -> Entry:
    scored: date = violation.scored_on
    return Entry(
        violation_id=violation.id,
        day=scored.toordinal(),
        year=scored.year,
        item=violation.item,
        item_points=item_points,
        points=points,
    )
