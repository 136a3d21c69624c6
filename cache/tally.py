"""The content guard's counts: what a snapshot holds that a truncated or emptied export would lose.

Six counts, the shrink guard compares each with the published snapshot's (``cache.guard``):

    physicians              physicians in the registry
    agreements              agreements in force (医保医师服务协议, as a termination leaves them)
    sanctions               physician sanctions in force (约谈, 暂停, 解除, 中止结算)
    disqualified            physicians whose credit in force is D (衢州 第二十三条)
    institution_sanctions   institution suspensions and terminations in force (衢州 第十四条)
    rejected                physicians rejected for a reason of their own: credit D, a suspension
                            in force, or a termination with no agreement in force after it

"In force" depends on the day, and a snapshot is compared days after it was published: a
suspension that ended by itself is not a drop.  So each count is kept as a step function of the
day, ``{(count, day): delta}``: its value on day ``t`` is the sum of the deltas at days ≤ ``t``
(``physicians`` steps at day 0).  A record's steps come from its intervals alone, so the
published tally stays exact under an incremental sync: add the changed records' new steps,
subtract their old ones.  A store has a few thousand distinct dates: a tally has as many fields.
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.model import OPEN_END, Action, InstitutionRecord, PhysicianRecord

__all__ = ["COUNTS", "Step", "Tally", "institution_steps", "physician_steps", "rejected_on"]

#: Every count, in the order a refusal names them, with the words it names them by.
COUNTS: dict[str, str] = {
    "physicians": "physicians",
    "agreements": "agreements in force today",
    "sanctions": "physician sanctions in force today",
    "disqualified": "credit-D physicians today",
    "institution_sanctions": "institution sanctions in force today",
    "rejected": "physicians rejected today",
}

#: (count, day ordinal, delta)
Step = tuple[str, int, int]

_SUSPENSIONS = (Action.SUSPEND.value, Action.SETTLEMENT_SUSPEND.value)


def _interval(name: str, start: int, end: int) -> list[Step]:
    if start >= end:
        return []
    return [(name, start, 1)] if end >= OPEN_END else [(name, start, 1), (name, end, -1)]


def rejected_on(record: PhysicianRecord, on: int) -> bool:
    """Whether ``record`` rejects a line on day ``on`` whatever the institution (``rejected``)."""
    level = ""
    for c in record.credits:  # sorted by start: the last one started is in force
        if c.start <= on:
            level = c.level
    if level == "D":
        return True
    terminated = False
    for s in record.sanctions:
        if s.start > on:
            continue
        if s.action == Action.TERMINATE:
            terminated = True
        elif s.action in _SUSPENSIONS and on < s.end:
            return True
    return terminated and not any(a.start <= on < a.end for a in record.agreements)


def physician_steps(record: PhysicianRecord) -> tuple[Step, ...]:
    """The steps one physician adds to the tally."""
    steps: list[Step] = [("physicians", 0, 1)]
    for a in record.agreements:
        steps += _interval("agreements", a.start, a.end)
    for s in record.sanctions:  # a termination binds from its start on, whatever its end (decision.assess)
        steps += _interval("sanctions", s.start, OPEN_END if s.action == Action.TERMINATE else s.end)
    for i, c in enumerate(record.credits):
        if c.level == "D":
            following = record.credits[i + 1].start if i + 1 < len(record.credits) else OPEN_END
            steps += _interval("disqualified", c.start, following)
    if record.sanctions or record.credits:
        steps += _rejected_steps(record)
    return tuple(steps)


def _rejected_steps(record: PhysicianRecord) -> list[Step]:
    """``rejected_on`` as steps: it can change only where a credit, sanction or agreement starts or ends."""
    days = {c.start for c in record.credits}
    for s in record.sanctions:
        days.update((s.start, s.end))
    for a in record.agreements:
        days.update((a.start, a.end))
    steps: list[Step] = []
    before = False
    for on in sorted(d for d in days if d < OPEN_END):
        now = rejected_on(record, on)
        if now != before:
            steps.append(("rejected", on, 1 if now else -1))
            before = now
    return steps


def institution_steps(record: InstitutionRecord) -> tuple[Step, ...]:
    return tuple(step for s in record.sanctions for step in _interval("institution_sanctions", s.start, s.end))


class Tally:
    """The counts as step functions of the day; ``fields()`` is how Redis holds them."""

    __slots__ = ("deltas",)

    def __init__(self, deltas: dict[tuple[str, int], int] | None = None) -> None:
        self.deltas: dict[tuple[str, int], int] = deltas if deltas is not None else {("physicians", 0): 0}

    def add(self, steps: Iterable[Step], times: int = 1) -> None:
        deltas = self.deltas
        for name, on, delta in steps:
            deltas[name, on] = deltas.get((name, on), 0) + delta * times

    def on(self, day: int) -> dict[str, int]:
        """Every count on ``day``."""
        counts = dict.fromkeys(COUNTS, 0)
        for (name, on), delta in self.deltas.items():
            if on <= day:
                counts[name] += delta
        return counts

    def fields(self) -> dict[str, int]:
        """Hash fields ``<count>:<day>`` → delta."""
        return {f"{name}:{on}": delta for (name, on), delta in self.deltas.items()}

    @classmethod
    def from_fields(cls, raw: dict[bytes, bytes]) -> Tally:
        """The tally ``fields()`` wrote; ``ValueError`` when a field is not one."""
        deltas: dict[tuple[str, int], int] = {}
        for field, value in raw.items():
            name, _, on = field.decode().partition(":")
            if name not in COUNTS:
                raise ValueError(f"tally field {field!r} names no count")
            deltas[name, int(on)] = int(value)
        return cls(deltas)
