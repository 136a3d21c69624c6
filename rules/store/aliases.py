"""``physician_alias``: an institution's own doctor code → the 医保医师代码 (import row, store read).

Many HIS send their own doctor id, or the practising-certificate number (医师执业证书编码), where
the platform expects the 医保医师代码.  The agency (or the institution) records the mapping::

    {"kind": "physician_alias", "institution_code": "H33080200001", "local_code": "0231",
     "physician_code": "D330802000001", "start": "2026-01-01", "end": null}

``start`` defaults to 1900-01-01 (always), ``end`` to open; half-open like every interval.
``local_code`` is kept upper-cased: matching ignores case.  The sync publishes the mappings of each
institution with the snapshot (``cache.codec.encode_aliases``); the gateway resolves a line's
code before deciding it (``gateway.formats.nhsa.aliases``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from rules.model import day, day_or_open
from rules.store.schema import physician_aliases

__all__ = ["ALWAYS", "PhysicianAliasRow", "alias_records"]

ALWAYS = date(1900, 1, 1)  # the start of an alias given none
_CODE = r"^[A-Za-z0-9]{1,30}$"

#: institution_code → [(LOCAL CODE, physician_code, start, end)], days as ordinals (end OPEN_END when open).
AliasRecords = dict[str, list[tuple[str, str, int, int]]]


def _day(value: object) -> object:
    from rules.store.rowtypes import _iso_day  # one reading of YYYY-MM-DD for every row

    return value if value is None or isinstance(value, date) else _iso_day(value)


class PhysicianAliasRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    kind: Literal["physician_alias"]
    institution_code: Annotated[str, Field(pattern=_CODE)]
    local_code: Annotated[str, Field(pattern=_CODE), AfterValidator(str.upper)]
    physician_code: Annotated[str, Field(pattern=_CODE)]
    start: Annotated[date, BeforeValidator(_day)] = ALWAYS
    end: Annotated[date | None, BeforeValidator(_day)] = None

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if end is not None and start is not None and end <= start:
            raise ValueError("must be after start (intervals are half-open: end is the first day allowed again)")
        return end


def alias_records(conn: sa.Connection, institutions: Iterable[str] | None = None) -> AliasRecords:
    """Every institution's aliases (or those of ``institutions``), ordered by local code and start."""
    query = sa.select(physician_aliases).order_by(physician_aliases.c.institution_code,
                                                  physician_aliases.c.local_code, physician_aliases.c.start)
    if institutions is not None:
        query = query.where(physician_aliases.c.institution_code.in_(list(institutions)))
    found: AliasRecords = {}
    for row in conn.execute(query):
        found.setdefault(row.institution_code, []).append(
            (row.local_code, row.physician_code, day(row.start), day_or_open(row.end)))
    return found
