"""The import's row models, one per record kind (docs/import-format.md), and the table each
kind is written to.  pydantic at the edge: each model refuses what the contract refuses, naming
the field."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from rules.store.aliases import PhysicianAliasRow
from rules.store.rowtypes import Code, Day, Ident, Row, Text
from rules.store.workflow_import import AppealRow, NoticeRow

__all__ = ["TABLES", "AnyRow", "ROW", "AgreementRow", "CreditRow", "InstitutionRow", "InstitutionSanctionRow",
           "PhysicianRow", "RestorationRow", "RevocationRow", "SanctionRow", "ViolationRow"]

_Row = Row


class _Interval(_Row):
    start: Day
    end: Day | None = None

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if end is not None and start is not None and end <= start:
            raise ValueError("must be after start (intervals are half-open: end is the first day allowed again)")
        return end


class InstitutionRow(_Row):
    kind: Literal["institution"]
    code: Code
    name: Text
    region: Annotated[str, Field(pattern=r"^\d{6}$")]


class InstitutionSanctionRow(_Interval):
    kind: Literal["institution_sanction"]
    id: Ident
    institution_code: Code
    action: Literal["suspend", "terminate"]
    basis: Text


class PhysicianRow(_Row):
    kind: Literal["physician"]
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=100)]


class AgreementRow(_Interval):
    kind: Literal["agreement"]
    physician_code: Code
    institution_code: Code


class ViolationRow(_Row):
    kind: Literal["violation"]
    id: Ident
    physician_code: Code
    institution_code: Code
    item: Annotated[str, Field(min_length=1, max_length=10)]
    case_id: Ident
    act_id: Ident | None = None
    occurred_on: Day
    scored_on: Day
    # 苏州 第十三条: points rest on an effective document; without one the line is bad.
    basis_type: Literal["administrative_penalty", "audit", "agreement", "interview", "judicial"]
    basis_no: Annotated[str, Field(min_length=1, max_length=100)]

    @field_validator("scored_on")
    @classmethod
    def _scored_after_occurred(cls, scored_on: date, info: ValidationInfo) -> date:
        occurred_on = info.data.get("occurred_on")
        if occurred_on is not None and scored_on < occurred_on:
            raise ValueError("is before occurred_on")
        return scored_on


class SanctionRow(_Interval):
    kind: Literal["sanction"]
    id: Ident
    physician_code: Code
    action: Literal["interview", "suspend", "terminate", "settlement_suspend"]
    ban_until: Day | None = None
    basis: Text

    @field_validator("ban_until")
    @classmethod
    def _ban_for_terminate_only(cls, ban_until: date | None, info: ValidationInfo) -> date | None:
        if ban_until is not None:
            if info.data.get("action") != "terminate":
                raise ValueError("is for terminate only")
            start = info.data.get("start")
            if start is not None and ban_until <= start:
                raise ValueError("must be after start")
        return ban_until


class RestorationRow(_Row):
    kind: Literal["restoration_request"]
    physician_code: Code
    filed_on: Day


class CreditRow(_Row):
    kind: Literal["credit"]
    physician_code: Code
    level: Literal["A", "B", "C", "D"]
    effective_from: Day


class RevocationRow(_Row):
    kind: Literal["revocation"]
    target_id: Ident
    revoked_on: Day
    reason: Annotated[str, Field(min_length=1, max_length=500)]


AnyRow = Annotated[
    InstitutionRow
    | InstitutionSanctionRow
    | PhysicianRow
    | AgreementRow
    | ViolationRow
    | SanctionRow
    | RestorationRow
    | CreditRow
    | RevocationRow
    | PhysicianAliasRow
    | AppealRow
    | NoticeRow,
    Field(discriminator="kind"),
]
ROW = TypeAdapter(AnyRow)

#: kind -> store table, in the order rows are written (referenced rows first).
TABLES: dict[str, str] = {
    "institution": "institutions",
    "institution_sanction": "institution_sanctions",
    "physician": "physicians",
    "agreement": "agreements",
    "violation": "violations",
    "sanction": "sanctions",
    "restoration_request": "restoration_requests",
    "credit": "credits",
    "revocation": "revocations",
    "physician_alias": "physician_aliases",
    "appeal": "appeals",
    "notice": "notices",
}
