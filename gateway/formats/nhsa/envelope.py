"""The platform's message envelope: the request's header read leniently, the response built.

Request (every transaction): ``infno`` 交易编号, ``msgid`` 报文ID (fixmedins_code(12) +
yyyyMMddHHmmss + serial(4)), ``mdtrtarea_admvs`` 就医地医保区划 (6 digits), ``fixmedins_code``
定点医药机构编号, ``input``; the rest (``insuplc_admdvs``, ``opter``, ``inf_time``, ``sign_no``,
``cainfo``…) is accepted and ignored.

Response: ``infcode`` (0 processed, -1 not; a number, or a string where
``DRGATE_NHSA_INFCODE_TEXT`` says the HIS reads one), ``inf_refmsgid`` (region(6) + time(14) +
serial(10)), ``refmsg_time`` / ``respond_time`` (``yyyyMMddHHmmssSSS``, Asia/Shanghai),
``err_msg`` (at most 200 characters: the platform's field) and ``output``.  Nothing else: strict
readers (Jackson with FAIL_ON_UNKNOWN_PROPERTIES) refuse a field they do not know.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from gateway.check.status import CHINA
from gateway.errors import BadEnvelope, Unreadable
from gateway.formats.nhsa.wire import code, text

__all__ = ["ERR_MSG_MAX", "Header", "Responder", "clip", "read_header", "unauthorised"]

ERR_MSG_MAX = 200  # characters of err_msg the platform's field holds
NO_REGION = "000000"  # inf_refmsgid's region when the request named none (or could not be read)
_REGION = re.compile(r"\d{6}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Header:
    infno: str
    msgid: str
    institution: str | None  # fixmedins_code
    region: str  # mdtrtarea_admvs, NO_REGION when not sent
    input: dict[str, Any]


def read_header(body: bytes, infno: str) -> Header:
    """The envelope of a request to ``/nhsa/{infno}``; ``BadEnvelope`` naming the field if unreadable."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadEnvelope("the body is not JSON", NO_REGION) from None
    if not isinstance(message, dict):
        raise BadEnvelope("the body must be a JSON object (the platform's envelope)", NO_REGION)
    region = NO_REGION
    try:
        field = "mdtrtarea_admvs"
        found = text(message.get(field), 6)
        if found is not None:
            if not _REGION.fullmatch(found):
                raise Unreadable("must be 6 digits (行政区划代码, GB/T 2260)")
            region = found
        field = "infno"
        sent = text(message.get(field), 4)
        if sent is None:
            raise Unreadable("is required")
        if sent != infno:
            raise Unreadable(f"{sent} was sent to /nhsa/{infno}")
        field = "msgid"
        msgid = text(message.get(field), 64)
        if msgid is None:
            raise Unreadable("is required")
        field = "fixmedins_code"
        institution = code(message.get(field))
        field = "input"
        payload = message.get(field)
        if isinstance(payload, str) and payload.strip():
            payload = orjson.loads(payload)
        if not isinstance(payload, dict):
            raise Unreadable("must be an object")
    except Unreadable as exc:
        raise BadEnvelope(f"{field}: {exc}", region) from None
    except orjson.JSONDecodeError:
        raise BadEnvelope("input: is neither an object nor JSON text of one", region) from None
    return Header(infno, msgid, institution, region, payload)


def clip(message: str, limit: int = ERR_MSG_MAX) -> str:
    """``message`` cut to ``limit`` characters, an ellipsis saying it was cut."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class Responder:
    """Builds response envelopes; one per app (the infcode's form is a setting)."""

    def __init__(self, *, infcode_text: bool = False) -> None:
        self.ok: int | str = "0" if infcode_text else 0
        self.failed: int | str = "-1" if infcode_text else -1
        self._serial = itertools.count(1)

    def success(self, output: dict[str, Any], received: datetime, region: str) -> dict[str, Any]:
        return self._envelope(self.ok, region, received, "", output)

    def success_json(self, output: bytes, received: datetime, region: str) -> bytes:
        """``orjson.dumps(self.success(orjson.loads(output), received, region))``, ``output`` already
        serialised (an object): the envelope written with an empty output, ``output`` put in its place."""
        head = orjson.dumps(self._envelope(self.ok, region, received, "", {}))
        return head[:-3] + output + b"}"  # head ends '"output":{}}'

    def failure(self, err_msg: str, received: datetime, region: str = NO_REGION,
                output: dict[str, Any] | None = None) -> dict[str, Any]:
        """``infcode -1``: ``err_msg`` (cut to 200 characters) says what to fix."""
        return self._envelope(self.failed, region, received, clip(err_msg), output if output is not None else {})

    def _envelope(self, infcode: int | str, region: str, received: datetime, err_msg: str,
                  output: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(CHINA)
        second = _second(now)
        return {"infcode": infcode, "inf_refmsgid": self._refmsgid(region, second), "refmsg_time": _stamp(received),
                "respond_time": f"{second}{now.microsecond // 1000:03d}", "err_msg": err_msg, "output": output}

    def _refmsgid(self, region: str, second: str) -> str:
        # region(6) + time(14) + serial(10); the serial mixes the pid so workers do not collide.
        serial = (os.getpid() % 1000) * 10_000_000 + next(self._serial) % 10_000_000
        return f"{region}{second}{serial:010d}"


def unauthorised(responder: Responder) -> Callable[[str, str], bytes | None]:
    """The API-key guard's answer on ``/nhsa/`` paths (401 and 403): the platform's failure envelope."""

    def refusal(path: str, message: str) -> bytes | None:
        if not path.startswith("/nhsa/"):
            return None
        return orjson.dumps(responder.failure(message, datetime.now(CHINA)))

    return refusal


def _stamp(moment: datetime) -> str:
    """``yyyyMMddHHmmssSSS`` in Asia/Shanghai."""
    return f"{_second(moment)}{moment.microsecond // 1000:03d}"


def _second(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` of ``moment`` (aware) in Asia/Shanghai."""
    if moment.tzinfo is CHINA:  # the gateway's own moments: their fields are Shanghai's (no epoch arithmetic)
        return _fields_text(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return _second_text((moment - _EPOCH) // _ONE_SECOND)


@lru_cache(maxsize=16)
def _fields_text(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    # an envelope has three stamps, mostly of the same second: each second's text written once
    return f"{year:04d}{month:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}"


@lru_cache(maxsize=16)
def _second_text(epoch_second: int) -> str:
    # strftime is ~1.5 µs, and an envelope has three stamps, mostly of the same second
    return datetime.fromtimestamp(epoch_second, CHINA).strftime("%Y%m%d%H%M%S")
