"""Field types shared by the import's row models (``rules.store.importer``, ``rules.store.workflow_import``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["CODE_PATTERN", "Code", "Day", "Ident", "Row", "Text"]

CODE_PATTERN = r"^[A-Za-z0-9]{1,30}$"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> date:
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError(f"{value!r} is not a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None


Day = Annotated[date, BeforeValidator(_iso_day)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Ident = Annotated[str, Field(min_length=1, max_length=64)]


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
