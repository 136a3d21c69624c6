"""Bodies and answers of ``/admin/v1/``, for validation at the edge and the OpenAPI document.

A record is an object of the import contract (docs/import-format.md), ``kind`` included; it is
validated by the importer's own row models (``rules.store.rows``), not here, so a refusal is the
import's message, ``line N: field: why`` (the Nth record of the body, from 1).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.errors import LineProblem
from rules.store.rows import ROW

__all__ = ["KeyIn", "RecordsIn", "problem_detail", "record_components"]

#: Records a request may carry: a province's yearly import fits many requests of this size.
MAX_RECORDS = 5000


class RecordsIn(BaseModel):
    """One record (``record``) or a batch (``records``), written all or nothing."""

    model_config = ConfigDict(extra="forbid")

    record: dict[str, Any] | None = Field(None, description="one record of the import contract")
    records: Annotated[list[dict[str, Any]] | None, Field(max_length=MAX_RECORDS)] = Field(
        None, description="records of the import contract, written all or nothing")
    reason: Annotated[str | None, Field(min_length=1, max_length=500)] = Field(
        None, description="why: required on a correction (PUT), kept in the history")

    @model_validator(mode="after")
    def _one_or_many(self) -> RecordsIn:
        if (self.record is None) == (self.records is None):
            raise ValueError("give either record (one) or records (a batch)")
        return self

    def items(self) -> list[dict[str, Any]]:
        return [self.record] if self.record is not None else list(self.records or ())


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$", description="who holds it")]
    role: Literal["settlement", "helpdesk", "officer", "admin"]  # rules.store.schema.ROLES



def problem_detail(problems: list[LineProblem]) -> list[dict[str, Any]]:
    """The import's problems as the admin API answers them: each with its ``line N: field: why``."""
    return [{"line": p.line, "field": p.field, "message": p.message, "text": f"line {p.line}: {p.field}: {p.message}"}
            for p in problems]


def record_components() -> dict[str, Any]:
    """OpenAPI components: ``Record`` (any kind of the import contract) and one schema per kind."""
    schema = ROW.json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Record"] = schema
    components["RecordProblem"] = {"type": "object", "required": ["detail"], "properties": {"detail": {
        "type": "array", "items": {"type": "object", "required": ["line", "field", "message", "text"], "properties": {
            "line": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"},
            "text": {"type": "string", "description": "line N: field: why, as `drgate store import` says it"}}}}}}
    return components
