"""Import rows and checks of the workflow's record kinds: ``appeal`` and ``notice``.

- ``appeal`` (衢州 第二十七条): against a violation or a sanction (``target_id``); its
  ``physician_code`` is the target's (filled in, or checked when given).  Filed within the
  profile's working days of the physician's served notice of the target, else refused naming
  the computed deadline; a deadline counted over a year whose 调休 the calendar does not know is
  not enforced (it could be wrong).  ``decided_on`` and ``outcome`` go together.
- ``notice``: a derived notice served (``id`` from ``drgate notices``), on ``served_on``, by
  ``channel`` (衢州 第二十一条 书面或系统发送短信).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy.engine import Connection

from rules.appeals import filing_deadline, target_notice_ids
from rules.calendar import WorkingCalendar
from rules.errors import LineProblem
from rules.model import day, iso
from rules.profiles import Profile
from rules.store.rowtypes import Code, Day, Ident, Row
from rules.store.scans import Store
from rules.store.schema import appeals, notices
from rules.store.workflow_reads import target_owners

__all__ = ["NOTICE_ID", "AppealRow", "NoticeRow", "check_appeals", "check_notices"]

NOTICE_ID = r"^(violation|band|sanction|prior|revocation|appeal):[^@\s]{1,160}@[A-Za-z0-9]{1,30}$"


class AppealRow(Row):
    kind: Literal["appeal"]
    id: Ident
    target_id: Ident
    physician_code: Code | None = None
    filed_on: Day
    decided_on: Day | None = None
    outcome: Literal["upheld", "rejected"] | None = None

    @field_validator("decided_on")
    @classmethod
    def _decided_after_filed(cls, decided_on: date | None, info: ValidationInfo) -> date | None:
        filed_on = info.data.get("filed_on")
        if decided_on is not None and filed_on is not None and decided_on < filed_on:
            raise ValueError("is before filed_on")
        return decided_on

    @field_validator("outcome")
    @classmethod
    def _outcome_with_decision(cls, outcome: str | None, info: ValidationInfo) -> str | None:
        if "decided_on" in info.data and (outcome is None) != (info.data["decided_on"] is None):
            raise ValueError("outcome and decided_on go together: both, or neither for an appeal not decided yet")
        return outcome


class NoticeRow(Row):
    kind: Literal["notice"]
    id: Annotated[str, Field(pattern=NOTICE_ID, max_length=200)]
    physician_code: Code
    served_on: Day
    channel: Literal["written", "sms", "system"]


def check_appeals(store: Store, conn: Connection, profile: Profile, calendar: WorkingCalendar, parsed: list[Any],
                  problems: list[LineProblem]) -> list[Any]:
    """Appeals with their physician filled in; the bad ones reported and dropped.

    ``parsed`` are the import's ``ParsedLine``s (``file``, ``line``, ``row``).
    """
    appeals = [p for p in parsed if isinstance(p.row, AppealRow)]
    if not appeals:
        return parsed
    days = profile.bands.appeal_filing_working_days
    in_file = {p.row.id: p.row.physician_code for p in parsed if p.row.kind in ("violation", "sanction")}
    owners = {**target_owners(conn, {p.row.target_id for p in appeals} - set(in_file)), **in_file}
    served = _served(conn, parsed, [i for p in appeals if p.row.target_id in owners
                                    for i in target_notice_ids(p.row.target_id, owners[p.row.target_id])])
    article = profile.article_for("appeal") or "衢州 第二十七条"
    replaced: dict[int, Any] = {}
    for p in appeals:
        row: AppealRow = p.row
        owner = owners.get(row.target_id)
        problem = None
        if days <= 0:
            problem = ("kind", f"the {profile.name} profile has no appeal procedure ({article}); record the "
                               "outcome as a revocation")
        elif owner is None:
            problem = ("target_id", f"{row.target_id} is not the id of a violation or a sanction")
        elif row.physician_code is not None and row.physician_code != owner:
            problem = ("physician_code", f"{row.target_id} is {owner}'s, not {row.physician_code}'s")
        else:
            problem = _late(profile, calendar, row, owner, served, article)
        if problem:
            problems.append(LineProblem(p.file, p.line, *problem))
            replaced[id(p)] = None
        else:
            replaced[id(p)] = replace(p, row=row.model_copy(update={"physician_code": owner}))
    return [replaced.get(id(p), p) for p in parsed if replaced.get(id(p), p) is not None]


def _late(profile: Profile, calendar: WorkingCalendar, row: AppealRow, owner: str, served: dict[str, date],
          article: str) -> tuple[str, str] | None:
    """衢州 第二十七条 "接到通知后 10 个工作日内": a filing after the deadline is refused, naming it."""
    notices = [(served[i], i) for i in target_notice_ids(row.target_id, owner) if i in served]
    if not notices:
        return None  # not notified yet: the period has not started
    served_on, notice = min(notices)
    deadline = filing_deadline(profile, calendar, day(served_on))
    if deadline is None or day(row.filed_on) <= deadline.day or not deadline.known:
        return None  # a deadline over a year whose 调休 is unknown could be wrong: not enforced
    return ("filed_on", f"{row.filed_on} is after the deadline {iso(deadline.day)}: "
                        f"{profile.bands.appeal_filing_working_days} working days after notice {notice} was "
                        f"served on {served_on} ({article})")


def _served(conn: Connection, parsed: list[Any], ids: list[str]) -> dict[str, date]:
    """Served date of these notice ids: the import's own ``notice`` lines first, then the store."""
    found: dict[str, date] = {}
    for chunk in (ids[i : i + 900] for i in range(0, len(ids), 900)):
        found.update(conn.execute(sa.select(notices.c.id, notices.c.served_on).where(notices.c.id.in_(chunk))).all())
    found.update((p.row.id, p.row.served_on) for p in parsed if isinstance(p.row, NoticeRow))
    return found


def check_notices(store: Store, conn: Connection, parsed: list[Any], problems: list[LineProblem]) -> list[Any]:
    """Notices whose id names a cause of this physician and a recipient known; the others reported and dropped.

    ``violation:``, ``sanction:`` and ``revocation:`` name a violation or sanction of the physician,
    ``appeal:`` one of their appeals, ``band:`` a computed sanction id (``auto:YYYY:action``),
    ``prior:`` a year; the recipient is the physician or an institution.
    """
    rows = [p for p in parsed if isinstance(p.row, NoticeRow)]
    if not rows:
        return parsed
    causes = {_cause(p.row.id) for p in rows}
    in_file = {p.row.id: p.row.physician_code for p in parsed if p.row.kind in ("violation", "sanction", "appeal")}
    wanted = {ref for _, ref, _ in causes} - set(in_file)
    owners = {**target_owners(conn, wanted), **_appeal_owners(conn, wanted), **in_file}
    sites = {p.row.code for p in parsed if p.row.kind == "institution"}
    sites |= store.existing(conn, "institutions", "code", {r for _, _, r in causes} - sites)
    refused: set[int] = set()
    for p in rows:
        kind, ref, recipient = _cause(p.row.id)
        why = None
        if recipient != p.row.physician_code and recipient not in sites:
            why = f"recipient {recipient} is neither {p.row.physician_code} nor a known institution"
        elif kind in ("violation", "sanction", "revocation", "appeal") and owners.get(ref) != p.row.physician_code:
            what = "an appeal" if kind == "appeal" else "a violation or sanction"
            why = f"{ref} is not {what} of {p.row.physician_code}"
        elif kind == "band" and not re.fullmatch(r"auto:\d{4}:[a-z_]+", ref):
            why = f"{ref} is not a computed sanction's id (auto:YYYY:action)"
        elif kind == "prior" and not re.fullmatch(r"\d{4}", ref):
            why = f"{ref} is not a year"
        if why:
            problems.append(LineProblem(p.file, p.line, "id", f"{why}; take the id from `drgate notices`"))
            refused.add(id(p))
    return [p for p in parsed if id(p) not in refused]


def _cause(notice_id: str) -> tuple[str, str, str]:
    cause, _, recipient = notice_id.rpartition("@")
    kind, _, ref = cause.partition(":")
    return kind, ref, recipient


def _appeal_owners(conn: Connection, ids: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    wanted = sorted(ids)
    for chunk in (wanted[i : i + 900] for i in range(0, len(wanted), 900)):
        query = sa.select(appeals.c.id, appeals.c.physician_code).where(appeals.c.id.in_(chunk))
        found.update((r.id, r.physician_code) for r in conn.execute(query))
    return found
