"""Reading the platform's JSON the way real senders write it: lenient in form, strict in meaning.

HIS code serialises the same field in several ways, all of which the platform takes:

    numbers      "2.0000", 2, 2.0                 (C# ``string`` properties, Java ``BigDecimal``)
    absent       "", "  ", null, or no key at all   (fastjson drops nulls; C# sends "")
    date-times   "2026-12-01 10:29:00", "2026-12-01T10:29:00", "2026-12-01T10:29:00.1234567+08:00",
                 "2026-12-01" (the calendar day as written decides)
    lists        [..], one object where a list is expected, "" or null for none
    objects      {..}, a JSON text of one ("{\\"er_flag\\":\\"1\\"}"), or a list of them

Each reader returns the value or raises ``Unreadable`` saying why, in words an integrator can act
on; the caller adds the path (``input.feedetail[3].fee_ocur_time``).  Values are never echoed:
they may be a patient's.  Pure functions over what ``orjson.loads`` returned.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson

from gateway.errors import Unreadable

__all__ = ["AMOUNT_MAX", "CODE", "amount", "as_list", "cents", "code", "day_of", "day_of_text", "objects", "text"]

#: 医保医师代码 / 定点医疗机构代码 as they travel: 1–30 alphanumerics (``D510105000123``, local ``D190``).
CODE = re.compile(r"[A-Za-z0-9]{1,30}")
# yyyy-MM-dd, then optionally T or space and HH:mm[:ss[.fff]]: the date is what decides.
# A fraction of up to 7 digits and an offset come from .NET's DateTime (Json.NET's round-trip form).
_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,7})?)?"
                     r"(?:Z|[+-]\d{2}:?\d{2})?)?")
#: Largest amount accepted (16,2 in the platform's tables: under 10^14 yuan).
AMOUNT_MAX = Decimal(10) ** 14
_CENT = Decimal("0.01")
_WIDE = Context(prec=64)  # digits enough for 1000 lines of cnt × pric < 10^28, in fen


def text(value: Any, max_length: int = 64) -> str | None:
    """A string field: numbers become their text, blanks are None."""
    found: str
    if type(value) is str:  # most fields of most senders: checked first
        found = value.strip()
        if not found:
            return None
    elif value is None:
        return None
    elif isinstance(value, str):
        found = value.strip()
        if not found:
            return None
    elif isinstance(value, bool):
        raise Unreadable("must be text, not true/false")
    elif isinstance(value, int):
        found = str(value)
    elif isinstance(value, float):
        found = str(int(value)) if value.is_integer() else repr(value)
    else:
        raise Unreadable("must be text")
    if len(found) > max_length:
        raise Unreadable(f"longer than {max_length} characters")
    return found


def code(value: Any) -> str | None:
    """A doctor's or institution's code (1–30 of [A-Za-z0-9]), or None when absent."""
    if type(value) is str and CODE.fullmatch(value):
        return value  # the common case: nothing to strip
    found = text(value, 30)
    if found is not None and not CODE.fullmatch(found):
        raise Unreadable("must be 1–30 letters or digits")
    return found


def amount(value: Any) -> Decimal | None:
    """A money or count field as a Decimal; None when absent."""
    if type(value) is str:  # most senders: a few distinct strings ("1.0000", "12.50"), read once each
        number, error = _amount_of_text(value)
        if error is not None:
            raise Unreadable(error)
        return number
    return _amount(value)


@lru_cache(maxsize=8192)
def _amount_of_text(value: str) -> tuple[Decimal | None, str | None]:
    try:
        return _amount(value), None
    except Unreadable as exc:
        return None, str(exc)


def _amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unreadable("must be a number")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        number = Decimal(value) if isinstance(value, str | int) else Decimal(repr(float(value)))
    except (InvalidOperation, ValueError, TypeError):
        raise Unreadable("must be a number") from None
    if not number.is_finite() or number.copy_abs() >= AMOUNT_MAX:  # copy_abs: no context, no Overflow at 1E1000000
        raise Unreadable("must be a finite number under 10^14")
    return number


def cents(value: Decimal) -> float:
    """An amount as the platform's 16,2 number.  ``cnt × pric`` reaches 10^28, past the default
    context's 28 digits once in fen: quantized in a context wide enough for any sum of them."""
    return float(value.quantize(_CENT, context=_WIDE))


def day_of(value: Any) -> str | None:
    """``YYYY-MM-DD`` of a date or date-time (T or space), a real calendar day; None when absent."""
    if type(value) is str:  # an upload's lines mostly share a few moments: read each once
        day, error = day_of_text(value)
        if error is not None:
            raise Unreadable(error)
        return day
    return _day_of(value)


@lru_cache(maxsize=8192)
def day_of_text(value: str) -> tuple[str | None, str | None]:
    """``day_of`` of a string, once per distinct string: the day, or None and why not (None if blank)."""
    try:
        return _day_of(value), None
    except Unreadable as exc:
        return None, str(exc)


def _day_of(value: Any) -> str | None:
    found = text(value, 40)
    if found is None:
        return None
    match = _MOMENT.fullmatch(found)
    if match is None:
        raise Unreadable("must be a date-time as yyyy-MM-dd HH:mm:ss")
    day = match.group(1)
    try:
        if not 1900 <= date.fromisoformat(day).year <= 2099:
            raise Unreadable("must be a date between 1900 and 2099")
    except ValueError:
        raise Unreadable("is not a calendar date") from None
    return day


def as_list(value: Any) -> list[Any]:
    """A list field: one object stands for a list of one; blank is an empty list."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    if isinstance(value, str):  # some senders put the list in as JSON text
        try:
            return as_list(orjson.loads(value))
        except orjson.JSONDecodeError:
            pass
    raise Unreadable("must be a list of objects")


def objects(value: Any) -> list[dict[str, Any]]:
    """An object field that senders also send as a list of them or as JSON text (``exp_content``)."""
    if isinstance(value, str) and value.strip():
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise Unreadable("is neither an object nor JSON text of one") from None
    found = as_list(value)
    if not all(isinstance(item, dict) for item in found):
        raise Unreadable("must be an object or a list of objects")
    return found


_ZERO = Decimal(0)


def line_amount(sumamt: Decimal | None, cnt: Decimal | None, pric: Decimal | None) -> Decimal:
    """A fee line's or an order's amount: the sum as sent, else count × price, else 0."""
    if sumamt is not None:
        return sumamt
    return cnt * pric if cnt is not None and pric is not None else _ZERO


def is_refund(amount: Decimal, cnt: Decimal | None) -> bool:
    """A line that gives money back (退费): a negative amount or a negative count."""
    return amount < 0 or (cnt is not None and cnt < 0)
