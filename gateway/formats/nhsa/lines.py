"""One fee line or order, read from the platform's wire format, and its decision by the shared core.

Every front (2204/2301 fee details, 3101/3102 orders) reads its lines into ``Line`` and the lines
it cannot decide into ``Refusal``; ``decide`` groups the lines by institution, translates each
group into the core's ``Claim`` (``gateway.check.claim``), has the one check decide it
(``gateway.check.service``: read, decide, observe) and hands back each rejected line beside its
``DecidedLine``.

Lines are kept in the envelope's order, not merged by ``feedetl_sn``: the serial is unique
within a visit only (two visits of one upload may both have ``1``), so the (``mdtrt_id``,
``feedetl_sn``) pair travels on the line and into the answer.  The decision log names a line by
its ``feedetl_sn`` / ``rx_id`` (its claim is the envelope's ``msgid``).

Refund lines (negative count or amount: 退费, the reversal of a charge already uploaded) are never
decided: rejecting a refund would keep the fund's money on the wrong side.
"""

from __future__ import annotations

from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple

from gateway.check.claim import Claim, ClaimLine
from gateway.check.core import DecidedLine
from gateway.check.decision import PASS
from gateway.formats.nhsa.aliases import Aliases, resolve
from gateway.state import GatewayState

__all__ = ["Decided", "Line", "Refusal", "decide"]


# Line, Refusal and Decided are built once per line of every envelope: as NamedTuples (immutable
# too) each costs a quarter of a frozen dataclass, whose __init__ goes through object.__setattr__
# for every field (measured: 0.7 µs more a 10-field line, ~28 µs a 20-line upload).
class Line(NamedTuple):
    """A line of the wire format, read: what the core's claim is built from, and what the answer names."""

    visit: str  # mdtrt_id 就诊ID
    sn: str  # feedetl_sn 费用明细流水号 (2204/2301) or rx_id 处方(医嘱)标识 (3101/3102)
    code: str  # the doctor's code as sent (bilg_dr_codg / drord_dr_codg)
    day: str  # YYYY-MM-DD of fee_ocur_time / drord_begn_date
    institution: str  # fixmedins_code / medins_id
    patient: str  # psn_no / patn_id ("" when not sent)
    amount: Decimal  # det_item_fee_sumamt / sumamt, else cnt × pric
    med_type: str | None  # 医疗类别 of the line or its visit
    emergency: bool  # a local emergency flag (exp_content.er_flag = 1)
    refund: bool  # 退费: never rejected


class Refusal(NamedTuple):
    """A line that cannot be decided: it is answered alone, by its key and the field at fault."""

    visit: str
    sn: str
    patient: str
    amount: Decimal
    field: str  # path in the envelope, e.g. input.feedetail[3].bilg_dr_codg
    why: str


# Line's fields, read a column at a time (C loops, no bytecode a line)
_VISIT, _SN, _CODE, _DAY, _INSTITUTION = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3), itemgetter(4)
_MED_TYPE, _EMERGENCY, _REFUND = itemgetter(7), itemgetter(8), itemgetter(9)
_TERMS = itemgetter(3, 7, 8)  # day, med_type, emergency
_ALIKE = itemgetter(4, 0, 3, 7, 8, 9)  # institution, visit, the terms, refund


_new = tuple.__new__


class Decided(NamedTuple):
    """A line beside its decision by the core."""

    line: Line
    result: DecidedLine
    decision_id: str
    resolved: str  # the 医保医师代码 decided on (differs from line.code when mapped)


async def decide(state: GatewayState, claim_id: str, lines: list[Line], started: float, front: str = "nhsa",
                 caller: str | None = None, alike: bool = False) -> list[Decided]:
    """Decide every line that is not a refund, one core decision (and log entry) per institution;
    the rejected lines beside their decisions (the answers name no other).  ``alike``: the reader
    found every line of one institution, visit, day and terms, none a refund (``_ALIKE``)."""
    groups: dict[str, list[Line]]
    # the common upload: every line of one visit, on one day and terms, none a refund (one pass to know)
    alike = alike or len(set(map(_ALIKE, lines))) == 1 and not lines[0].refund
    if alike or len(set(map(_INSTITUTION, lines))) == 1 and not any(map(_REFUND, lines)):
        groups = {lines[0].institution: lines}  # an upload's lines, a visit's orders: one institution
    else:
        groups = {}
        for line in lines:
            if not line.refund:
                groups.setdefault(line.institution, []).append(line)
    rejected: list[Decided] = []
    for institution, group in groups.items():
        snapshot = state.cache.snapshot  # as of this group: an earlier group's read may have awaited
        claim, resolved = _claim(claim_id, institution, group, snapshot.aliases if snapshot is not None else None,
                                 alike)
        sent = list(map(_CODE, group))
        visits = [group[0].visit] if alike else sorted(set(map(_VISIT, group)))
        result = await state.checks.check(state.reader, claim, started, front, caller, visits,
                                          sent if sent != resolved else None)
        if result.decision != PASS:
            # tuple.__new__: Decided's own __new__ is a Python call; the fields in order
            rejected += [_new(Decided, (group[n], answer, result.decision_id, resolved[n]))
                         for n, answer in result.rejected()]
    return rejected


def _claim(claim_id: str, institution: str, group: list[Line], aliases: Aliases | None,
           alike: bool = False) -> tuple[Claim, list[str]]:
    """The core's claim of one institution's lines, and the 医保医师代码 each line is decided on.

    The claim's date is its first line's.  A 医疗类别 or an emergency flag every line shares is
    the claim's (a 3101 encounter's ``med_type``, an emergency visit's 2204 lines), so that the
    lines carry only their id and code and the core decides them on the claim's terms, its memo
    shared; a line carries its own date, flag or 医疗类别 only when it differs
    (``gateway.check.claim``).  The core exempts a line the same either way (``Policy.line_exempt``).
    ``alike``: the caller found every line of one visit and terms (``_ALIKE``), not looked for again."""
    first = group[0]
    claim_day, med_type = first.day, first.med_type
    same = alike or len(set(map(_TERMS, group))) == 1  # the common claim: every line on the claim's day and terms
    shared_type = med_type is not None and (same or len(set(map(_MED_TYPE, group))) == 1)
    emergency = first.emergency if same else all(map(_EMERGENCY, group))
    local = aliases.get(institution) if aliases else None
    resolved: list[str]
    if local:
        resolved = [resolve(aliases, institution, line.code, line.day) for line in group]
    else:
        sent = list(map(_CODE, group))
        # codes sent upper-case already (most): the codes as they are, not an upper-cased copy of each.
        # upper() never shortens a character, so the joined codes are their own upper case only if each is.
        joined = "".join(sent)
        resolved = sent if joined.upper() == joined else list(map(str.upper, sent))
    lines: list[ClaimLine]
    if same:
        lines = [{"line_id": sn, "physician_code": code} for sn, code in zip(map(_SN, group), resolved, strict=True)]
    else:
        lines = []
        for line, code in zip(group, resolved, strict=True):
            entry: ClaimLine = {"line_id": line.sn, "physician_code": code}
            if line.day != claim_day:
                entry["service_date"] = line.day
            if line.emergency and not emergency:
                entry["emergency"] = True
            if line.med_type is not None and not shared_type:
                entry["med_type"] = line.med_type
            lines.append(entry)
    claim: Claim = {"claim_id": claim_id, "institution_code": institution, "service_date": claim_day, "lines": lines}
    if shared_type:
        claim["med_type"] = med_type
    if emergency:
        claim["emergency"] = True
    return claim, resolved
