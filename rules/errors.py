"""Errors of the rules package.

    RulesError
    ├── ProfileError      a profile is unknown or malformed
    ├── StoreError        the scoring store cannot be reached or is not initialised
    │   └── ApiKeyError   a key cannot be added or revoked as asked (bad name or role, name taken, unknown)
    ├── CalendarError     the calendar override file is unreadable or malformed (names file, year, key)
    └── ImportFileError   an import file has bad lines; ``problems`` names each (line, field, why)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ApiKeyError", "CalendarError", "ImportFileError", "LineProblem", "ProfileError", "RulesError", "StoreError"]


class RulesError(Exception):
    """Base class of every error the rules package raises on purpose."""


class ProfileError(RulesError):
    pass


class StoreError(RulesError):
    pass


class ApiKeyError(StoreError):
    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing  # no key of that name: not found, rather than refused


class CalendarError(RulesError):
    pass


@dataclass(frozen=True, slots=True)
class LineProblem:
    """One bad line of an import file: where, which field, and why."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ImportFileError(RulesError):
    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} bad line(s); nothing imported")
