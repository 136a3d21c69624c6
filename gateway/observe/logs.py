"""Log lines: one per event, JSON in production, text on a terminal; the request and decision ids.

``DRGATE_LOG_FORMAT`` is ``json`` (one object a line: ``ts``, ``level``, ``logger``, ``pid``, ``msg``,
``request_id`` and ``decision_id`` when the line belongs to a request, ``exc`` for a traceback) or
``text``; unset, text when stderr is a terminal, JSON otherwise.  ``log_config`` is a
``logging.config.dictConfig`` document: the CLI applies it, and ``drgate serve`` hands it to
uvicorn, which applies it again in every worker process (a worker is spawned, it inherits no
handlers: without it a worker's INFO lines were lost).

Lines go to ``sys.stderr`` as it is at the time of the line, so a progress bar that redirects
stderr (``gateway.cli.progress``) prints them above itself instead of being drawn over.

The ids live in context variables: each request runs in its own task, so a line logged while it
is handled carries its ids and a background task's lines carry none.  No line carries a name, a
key or a request body (``tests/test_logs.py`` greps a whole run's output for them).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

__all__ = ["DECISION_ID", "REQUEST_ID", "JsonFormatter", "StderrHandler", "TextFormatter", "log_config",
           "use_json"]

#: The request's id (``X-Request-ID`` or made by ``gateway.api.hotpath``; bytes, as in the header) and
#: its decision's id.
REQUEST_ID: ContextVar[bytes | None] = ContextVar("drgate_request_id", default=None)
DECISION_ID: ContextVar[str | None] = ContextVar("drgate_decision_id", default=None)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                                "pid": record.process, "msg": record.getMessage()}
        request_id, decision_id = REQUEST_ID.get(), DECISION_ID.get()
        if request_id is not None:
            line["request_id"] = request_id.decode()
        if decision_id is not None:
            line["decision_id"] = decision_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``2026-12-01T10:00:00.123Z INFO gateway.app [pid 412] rid=… did=…: message``."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = REQUEST_ID.get()
        ids = "".join(f" {name}={value}" for name, value in (
            ("rid", None if request_id is None else request_id.decode()), ("did", DECISION_ID.get()))
            if value is not None)
        text = f"{_timestamp(record)} {record.levelname} {record.name} [pid {record.process}]{ids}: " \
               f"{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler on whatever ``sys.stderr`` is now (a progress bar swaps it for its own)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


def use_json(log_format: str | None) -> bool:
    if log_format is not None:
        return log_format == "json"
    return not sys.stderr.isatty()


def log_config(log_format: str | None, *, verbose: bool = False, access_log: bool = False) -> dict[str, Any]:
    """The logging set-up of the CLI and of every gateway worker, for ``logging.config.dictConfig``."""
    formatter = "gateway.observe.logs.JsonFormatter" if use_json(log_format) else "gateway.observe.logs.TextFormatter"
    level = "DEBUG" if verbose else "INFO"
    quiet = "DEBUG" if verbose else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"drgate": {"()": formatter}},
        "handlers": {"stderr": {"()": "gateway.observe.logs.StderrHandler", "formatter": "drgate"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers would add their own handlers; through the root they share ours.
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},  # ours: drgate.access
            "drgate.access": {"level": "INFO" if access_log else "WARNING"},
            "alembic": {"level": quiet},  # narrates every schema check at INFO: noise in a cron mail
        },
    }
