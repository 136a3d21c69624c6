"""The physician records a sync publishes: the store's scan through the engine and the codec.

Both syncs, full and incremental, take each physician from ``rules.store.physician_scan``, make
its record with ``rules.engine.physician_record`` and encode it with ``cache.codec``: the same
physician gets the same bytes whichever sync publishes it.

Most physicians have no violation, sanction or restoration request: their record depends on
their agreements and credits only (the code is not in the bytes), and most share them (one
open-ended agreement at an institution from a common day).  Such a record is made once per
shape, those agreement rows and credits, and shared; the engine runs for each of the others.
At 1,000,000 physicians the common physician costs a dict lookup.  The shrink guard's steps
(``cache.tally``) are counted the same way: a shape's once, times the physicians that share it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator

from cache.codec import encode_physician
from cache.tally import Step, Tally, physician_steps
from rules.calendar import WorkingCalendar
from rules.engine import physician_record
from rules.profiles import Profile
from rules.store.physician_scan import AgreementRows, PhysicianScan
from rules.store.scans import Store

__all__ = ["PhysicianRecords", "records_of"]

#: Distinct shapes whose record is memoised; past it, records are made each time.
SHAPES_MAX = 500_000


class PhysicianRecords:
    """Encoded physician records under ``profile``, and the tally steps of those made so far."""

    __slots__ = ("_profile", "_calendar", "_shapes", "_values", "_steps", "_uses", "_one_off")

    def __init__(self, profile: Profile, calendar: WorkingCalendar | None) -> None:
        self._profile = profile
        self._calendar = calendar
        self._shapes: dict[Hashable, int] = {}  # shape -> index in the three lists below
        self._values: list[bytes] = []  # a shape's encoded record ...
        self._steps: list[tuple[Step, ...]] = []  # ... its tally steps ...
        self._uses: list[int] = []  # ... and how many physicians had it
        self._one_off: list[tuple[Step, ...]] = []  # the steps of each record made for one physician

    def encoded(self, scan: PhysicianScan) -> Iterator[tuple[str, bytes]]:
        """Every physician the scan gives, as (code, encoded record), in code order."""
        profile, calendar = self._profile, self._calendar
        shapes, values, uses = self._shapes, self._values, self._uses
        credits = scan.sparse.credits
        sanctionable = scan.sparse.sanctionable()
        for code, rows in scan.physicians():
            if code in sanctionable:
                record = physician_record(profile, scan.facts(code, rows), calendar)
                self._one_off.append(physician_steps(record))
                yield code, encode_physician(record)
                continue
            shape: Hashable = rows
            if code in credits:
                shape = (rows, frozenset((c.level, c.effective_from) for c in credits[code]))
            index = shapes.get(shape)
            if index is None:
                index = self._new_shape(shape, scan, code, rows)
            uses[index] += 1
            yield code, values[index]

    def add_steps(self, tally: Tally) -> None:
        """Add the tally steps of every record made so far to ``tally``."""
        for steps in self._one_off:
            tally.add(steps)
        for steps, n in zip(self._steps, self._uses, strict=True):
            tally.add(steps, n)

    def _new_shape(self, shape: Hashable, scan: PhysicianScan, code: str, rows: AgreementRows) -> int:
        record = physician_record(self._profile, scan.facts(code, rows), self._calendar)
        index = len(self._values)
        self._values.append(encode_physician(record))
        self._steps.append(physician_steps(record))
        self._uses.append(0)
        if len(self._shapes) < SHAPES_MAX:
            self._shapes[shape] = index
        return index


def records_of(store: Store, profile: Profile, calendar: WorkingCalendar | None, codes: Iterable[str]
               ) -> tuple[dict[str, bytes | None], Tally]:
    """The encoded record of each of ``codes`` (None: not in the store), in code order, and the
    tally steps of those records: what an incremental sync publishes for them."""
    values: dict[str, bytes | None] = dict.fromkeys(sorted(set(codes)))
    tally = Tally({})
    if values:
        records = PhysicianRecords(profile, calendar)
        with store.scan_physicians(values) as scan:
            values.update(records.encoded(scan))
        records.add_steps(tally)
    return values, tally
