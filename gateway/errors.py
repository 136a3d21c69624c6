"""Errors of the gateway package: what a front refuses, each answered on its own wire.

    GatewayError
    ├── BodyRefused            a request body is not read; ``status`` and ``detail`` answer it
    │   ├── BodyTooLarge       past the route's limit (413, a declared length before a byte is read)
    │   └── BodyBudgetExceeded past the worker's budget of unfinished bodies (503: retry)
    ├── Unreadable             a national-platform field cannot be read; the message says why, never
    │                          what was sent (the caller adds the path: ``input.feedetail[3].fee_ocur_time``)
    ├── BadEnvelope            the platform's envelope cannot be read: answered ``infcode -1`` with it
    └── EntryError             a decision-log entry of no known layout: the archiver logs it and moves on

``Unreadable``, ``BadEnvelope`` and ``EntryError`` are also ``ValueError``s: what cannot be read is a
bad value.  The cache's and the rules' errors are in ``cache/errors.py`` and ``rules/errors.py``; the
exit codes of `drgate` in ``gateway/cli/exits.py``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BadEnvelope", "BodyBudgetExceeded", "BodyRefused", "BodyTooLarge", "EntryError", "GatewayError",
           "PageRefused", "PublishRefused", "Unreadable"]

class GatewayError(Exception):
    """Base class of every error the gateway package raises on purpose."""


class BodyRefused(GatewayError):
    """The body is not read; ``status`` and ``detail`` say why."""

    status = 400
    detail = "request body refused"


class BodyTooLarge(BodyRefused):
    status = 413

    def __init__(self, limit: int) -> None:
        self.detail = f"request body over {limit >> 20} MiB"
        super().__init__(self.detail)


class BodyBudgetExceeded(BodyRefused):
    status = 503
    detail = "too many unfinished request bodies held by this worker; retry"


class Unreadable(GatewayError, ValueError):
    """A field that cannot be read; the message says why, never what was sent."""


class BadEnvelope(GatewayError, ValueError):
    """The envelope itself cannot be read: answered ``infcode -1`` with this message, its
    ``inf_refmsgid`` in ``region`` (the envelope's, or none: ``000000``)."""

    def __init__(self, message: str, region: str) -> None:
        super().__init__(message)
        self.region = region


class EntryError(GatewayError, ValueError):
    """An entry that is not of any layout: the archiver logs it (stream id, field) and moves on."""


class PageRefused(GatewayError):
    """A workbench page answered otherwise: a redirect to the login, or a refusal page (``response``)."""

    def __init__(self, response: Any) -> None:
        super().__init__("page refused")
        self.response = response  # a Starlette Response


class PublishRefused(GatewayError):
    """The workbench's publish did not publish: another sync holds the lock, the shrink guard refused, or
    the lock was lost."""
