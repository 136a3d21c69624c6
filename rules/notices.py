"""Notices owed (衢州 第二十一条 "以书面或系统发送短信方式告知其本人及其所在定点医疗机构";
苏州 第十五条 "通知医保医师本人及其所在的医疗机构"; 苏州 第十六条 "事先告知 ... 听取其陈述申辩").

Derived, never stored: every scored violation, every band reached, every sanction (computed or
explicit), every revocation and every decided appeal owes a notice to the physician and to each
institution where the physician holds an agreement on the day it is owed (and, for a violation,
to the institution where it happened).  A notice's id is its cause and recipient
(``violation:v1@H33080200001``): deriving twice gives the same notices, and a ``notice`` record
of the store (the same id) says when it was served.

Notices survive revocations: they are derived from the violations and sanctions revoked or not,
and bands from the points before and after revocations; a revocation owes its own notice.

Causes: ``violation:{id}``, ``band:{computed sanction id}`` (e.g. ``band:auto:2026:suspend``),
``sanction:{id}``, ``prior:{year}`` (苏州 第十六条 事先告知 once the year's total reaches the
settlement-suspension points), ``revocation:{target id}``, ``appeal:{id}`` (its decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.appeals import Deadline, filing_deadline
from rules.calendar import WorkingCalendar
from rules.ledger import Entry, entries
from rules.model import Sanction, day, iso
from rules.profiles import Profile
from rules.sanctions import computed_sanctions
from rules.workflow import WorkflowFacts

__all__ = ["Notice", "derive_notices", "notice_json"]


@dataclass(frozen=True, slots=True)
class Notice:
    id: str  # f"{cause}@{recipient}"
    cause: str
    physician_code: str
    recipient: str  # the physician's code or an institution's
    recipient_kind: str  # "physician" | "institution"
    what: str
    article: str
    points: int | None  # the violation's points, or None
    total: int | None  # the year's total after it (or at the band's crossing)
    owed_on: int
    served_on: int = 0  # 0: not served yet
    channel: str = ""
    appeal_until: Deadline | None = None  # 衢州 第二十七条, for the physician's notice of a decision, once served


@dataclass(frozen=True, slots=True)
class _Cause:
    cause: str
    what: str
    article: str
    owed_on: int
    points: int | None = None
    total: int | None = None
    site: str = ""  # an institution owed the notice besides those with an agreement
    appealable: bool = False


def derive_notices(profile: Profile, facts: WorkflowFacts, calendar: WorkingCalendar,
                   current: tuple[Sanction, ...] = ()) -> tuple[Notice, ...]:
    """Every notice owed for ``facts``, by (owed_on, id); ``current`` are the sanctions in force
    after revocations (``Evaluation.record.sanctions``), whose computed bands owe notices too."""
    revoked = facts.revoked()
    ledger = entries(profile, facts.violations)
    still = entries(profile, [v for v in facts.violations if v.id not in revoked])
    causes = [*_violations(profile, facts, ledger), *_bands(profile, ledger, still, current),
              *_explicit(profile, facts), *_prior(profile, ledger, still), *_annulments(profile, facts)]
    served = {s.id: s for s in facts.served}
    notices: list[Notice] = []
    for c in causes:
        for recipient, kind in _recipients(facts, c):
            nid = f"{c.cause}@{recipient}"
            record = served.get(nid)
            served_on = day(record.served_on) if record else 0
            appeal = (filing_deadline(profile, calendar, served_on)
                      if c.appealable and kind == "physician" and served_on else None)
            notices.append(Notice(nid, c.cause, facts.code, recipient, kind, c.what, c.article, c.points, c.total,
                                  c.owed_on, served_on, record.channel if record else "", appeal))
    return tuple(sorted(notices, key=lambda n: (n.owed_on, n.id)))


def _recipients(facts: WorkflowFacts, cause: _Cause) -> list[tuple[str, str]]:
    sites = {a.institution for a in facts.agreements if a.start <= cause.owed_on < a.end}
    if cause.site:
        sites.add(cause.site)
    return [(facts.code, "physician"), *((s, "institution") for s in sorted(sites))]


def _running_totals(ledger: tuple[Entry, ...]) -> dict[str, int]:
    totals: dict[int, int] = {}
    after: dict[str, int] = {}
    for e in ledger:  # already in (scored_on, id) order
        totals[e.year] = totals.get(e.year, 0) + e.points
        after[e.violation_id] = totals[e.year]
    return after


def _total_on(ledger: tuple[Entry, ...], year: int, on: int) -> int:
    return sum(e.points for e in ledger if e.year == year and e.day <= on)


def _violations(profile: Profile, facts: WorkflowFacts, ledger: tuple[Entry, ...]) -> list[_Cause]:
    article = profile.article_for("notice")
    totals = _running_totals(ledger)
    by_id = {v.id: v for v in facts.violations}
    out = []
    for e in ledger:
        v = by_id[e.violation_id]
        item = profile.item(v.item)
        out.append(_Cause(
            f"violation:{v.id}",
            f"{e.points} point(s) for item {v.item} ({item.article}), {v.basis_type} {v.basis_no}; "
            f"{totals[v.id]} point(s) in {e.year}",
            article, e.day, e.points, totals[v.id], v.institution_code, appealable=True))
    return out


def _bands(profile: Profile, ledger: tuple[Entry, ...], still: tuple[Entry, ...],
           current: tuple[Sanction, ...]) -> list[_Cause]:
    """Bands reached, before revocations or after them: each owes a notice, once, from its start."""
    first: dict[str, Sanction] = {}
    for s in (*computed_sanctions(profile, ledger), *computed_sanctions(profile, still),
              *(s for s in current if s.computed)):
        if s.ref not in first or s.start < first[s.ref].start:
            first[s.ref] = s
    out = []
    for ref, s in first.items():
        year = date.fromordinal(s.start).year
        total = max(_total_on(ledger, year, s.start), _total_on(still, year, s.start))
        end = f" to {iso(s.end)}" if iso(s.end) else ""
        ban = f", no new agreement before {iso(s.ban_until)}" if s.ban_until else ""
        out.append(_Cause(f"band:{ref}", f"{s.action} from {iso(s.start)}{end}{ban}: {total} point(s) in {year}",
                          s.article, s.start, None, total))
    return out


def _explicit(profile: Profile, facts: WorkflowFacts) -> list[_Cause]:
    out = []
    for s in facts.sanctions:
        end = f" to {s.end.isoformat()}" if s.end else ""
        out.append(_Cause(f"sanction:{s.id}", f"{s.action} from {s.start.isoformat()}{end}, basis {s.basis}",
                          profile.article_for(s.action), day(s.start), appealable=True))
    return out


def _prior(profile: Profile, ledger: tuple[Entry, ...], still: tuple[Entry, ...]) -> list[_Cause]:
    """苏州 第十六条: before settlement is suspended, the physician and the institution are told the
    basis and the reasons and heard; owed from the day the year's total reaches the points."""
    threshold = profile.bands.settlement_suspension_points
    if profile.auto_sanctions or threshold <= 0:
        return []
    reached: dict[int, tuple[int, int]] = {}
    for led in (ledger, still):
        totals: dict[int, int] = {}
        for e in led:
            totals[e.year] = totals.get(e.year, 0) + e.points
            if totals[e.year] >= threshold and (e.year not in reached or e.day < reached[e.year][0]):
                reached[e.year] = (e.day, totals[e.year])
    return [_Cause(f"prior:{year}", f"{total} point(s) in {year} reached {threshold}: settlement may be "
                   "suspended; the basis and reasons are to be told and the physician heard (陈述申辩)",
                   profile.article_for("prior_notice"), on, None, total)
            for year, (on, total) in sorted(reached.items())]


def _annulments(profile: Profile, facts: WorkflowFacts) -> list[_Cause]:
    out = [_Cause(f"revocation:{r.target_id}", f"{r.target_id} revoked on {r.revoked_on.isoformat()}: {r.reason}",
                  profile.article_for("notice"), day(r.revoked_on)) for r in facts.revocations]
    for a in facts.appeals:
        if a.decided_on is not None and a.outcome is not None:
            effect = f"{a.target_id} is revoked" if a.outcome == "upheld" else f"{a.target_id} stands"
            out.append(_Cause(f"appeal:{a.id}", f"appeal {a.id} against {a.target_id} {a.outcome}: {effect}",
                              profile.article_for("appeal"), day(a.decided_on)))
    return out


def notice_json(n: Notice) -> dict[str, object]:
    return {
        "id": n.id, "physician_code": n.physician_code, "recipient": n.recipient, "recipient_kind": n.recipient_kind,
        "cause": n.cause, "what": n.what, "article": n.article, "points": n.points, "total": n.total,
        "owed_on": iso(n.owed_on), "served_on": iso(n.served_on), "channel": n.channel or None,
        "appeal_until": iso(n.appeal_until.day) if n.appeal_until else None,
        "calendar_known": n.appeal_until.known if n.appeal_until else True,
    }
