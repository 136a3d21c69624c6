"""2204 门诊费用明细信息上传 / 2301 住院费用明细信息上传: ``input.feedetail`` → lines, refusals, rows.

    feedetail[].feedetl_sn       费用明细流水号, unique within the visit: the line's key with mdtrt_id
    feedetail[].mdtrt_id         就诊ID
    feedetail[].psn_no           人员编号 → ``patn_id`` of a result
    feedetail[].bilg_dr_codg     开单医生编码: decides the line (``orders_dr_code`` 受单医生 does not)
    feedetail[].fee_ocur_time    费用发生时间: its calendar day is the day decided on
    feedetail[].med_type         医疗类别 (2301 carries it on every line): exempt when configured
    feedetail[].exp_content      provincial extension, an object or a list of them (openhis
                                 declares ``List<exp_content>``): ``er_flag`` 1 急诊 exempts
    det_item_fee_sumamt (else cnt × pric)  the amount; negative (or a negative cnt): a refund

A line that cannot be decided (no doctor code, no readable date, no key) is refused by itself.

Two readers of a line, one answer: ``_plain_run`` takes the form most senders write (text
fields as plain strings, amounts as strings or numbers, ``exp_content`` one flag object) without
a call per field, and hands anything else to ``_read_line``, the lenient reader of every form
``gateway.formats.nhsa.wire`` takes, which also names what is wrong with a line it refuses.  The
plain reader answers only where the lenient one would answer the same (tests/test_nhsa_readers.py
holds them to that on every field fixture and on odd values of every field).

Without an upstream platform the accepted answer's ``output.result`` is one fee-split row a line
(``FEE_ROW``), the shape HIS code reads after 2204 (openhis ``Output_2204.cs``: non-nullable
``decimal`` fields; hsa-his reads ``selfpay_prop``, ``chrgitm_lv`` and ``med_chrgitm_type`` of
every row).  drgate splits no fee: the amounts are the line's own, the ratios 0.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson

from gateway.errors import Unreadable
from gateway.formats.nhsa.lines import Line, Refusal
from gateway.formats.nhsa.wire import (
    amount,
    as_list,
    cents,
    code,
    day_of,
    day_of_text,
    is_refund,
    line_amount,
    objects,
    text,
)

__all__ = ["MAX_LINES", "read_fees", "rows", "rows_json"]

MAX_LINES = 1000  # lines of one upload decided, as /v1's claims
#: Each visit's feedetl_sn read so far (mdtrt_id → serials): a serial is unique within its visit only.
Seen = dict[str, set[str]]
_ZERO = Decimal(0)


def read_fees(payload: dict[str, Any], institution: str | None) -> tuple[list[Line], list[Refusal], list[Any], bool]:
    """Lines, refusals and the parts of the fee-split rows (``rows``) of ``input``, and whether every
    line is of one visit, day and terms and none a refund (``lines._ALIKE``: ``decide`` need not look
    again); ``Unreadable`` when the list itself is."""
    try:
        details = as_list(payload.get("feedetail"))
    except Unreadable as exc:
        raise Unreadable(f"input.feedetail: {exc}") from None
    if not details:
        raise Unreadable("input.feedetail: at least one line is required")
    if len(details) > MAX_LINES:
        raise Unreadable(f"input.feedetail: more than {MAX_LINES} lines; upload them in several requests")
    if institution is None:
        raise Unreadable("fixmedins_code: is required (the institution the lines are decided at)")
    lines: list[Line] = []
    refusals: list[Refusal] = []
    parts: list[Any] = []
    seen: Seen = {}
    i, alike = _plain_run(details, 0, institution, seen, lines, parts)
    while i < len(details):  # a line not written the plain way, then the plain ones after it
        alike = False
        detail = details[i]
        if not isinstance(detail, dict):
            raise Unreadable(f"input.feedetail[{i}]: must be an object")
        read = _read_line(detail, f"input.feedetail[{i}]", institution, seen)
        if isinstance(read, Refusal):
            refusals.append(read)
        else:
            lines.append(read[0])
            parts.append(read[1])
        i, _ = _plain_run(details, i + 1, institution, seen, lines, parts)
    return lines, refusals, parts, alike


_KEYED = itemgetter("feedetl_sn", "mdtrt_id", "bilg_dr_codg", "fee_ocur_time")
_FLAGS = ("0", "1")
_new = tuple.__new__


def _plain_run(details: list[Any], start: int, institution: str, seen: Seen, lines: list[Line],
               parts: list[Any]) -> tuple[int, bool]:
    """Read the lines from ``start`` on as ``_read_line`` reads them while they are written the plain
    way (their serials added to ``seen``); the index of the first that is not (``len(details)``: none), and
    whether the lines read are alike (``read_fees``).

    An upload's lines mostly share their visit, patient, moment and terms, and often their amounts: the
    previous line's readings are taken again when the text is the same (no hashing of the fresh strings
    for a cache); the terms as sent are compared as one tuple.  Equal to a value read the plain way, a
    value is of its type (JSON's text equals only text; ``exp_content``'s flags are text or null) and
    reads the same; numbers are never compared (1 equals 1.0 and true), so amounts not all text are read."""
    terms_sent: Any = None  # (mdtrt_id, fee_ocur_time, psn_no, med_type, exp_content) of the previous line
    visit_sent: Any = None
    visit = ""
    serials: set[str] = set()  # the visit's serials read so far (seen's)
    moment: Any = None
    day: str | None = None
    patient = ""
    med_type: str | None = None
    emergency = False
    alike = True
    first: tuple[str, str | None, str | None, bool] | None = None  # the first line's visit, day, med_type, flag
    sent: tuple[str, str, str] | None = None
    amounts: tuple[Decimal, Decimal | None, Decimal | None, bool] | None = None
    for n in range(start, len(details)):
        detail = details[n]
        try:
            sn, visit_as_sent, doctor, when = _KEYED(detail)
        except (KeyError, TypeError):  # a key absent, or not an object
            return n, False
        if type(sn) is not str or type(doctor) is not str:
            return n, False
        sn = sn.strip()
        # A code as CODE takes it: 1–30 ASCII letters or digits (ASCII isalnum is exactly [A-Za-z0-9]).
        if not (0 < len(sn) <= 30 and len(doctor) <= 30 and doctor.isascii() and doctor.isalnum()):
            return n, False
        get = detail.get
        terms = (visit_as_sent, when, get("psn_no"), get("med_type"), get("exp_content"))
        if terms != terms_sent:
            if type(visit_as_sent) is not str or type(when) is not str:
                return n, False
            if visit_as_sent != visit_sent:
                visit = visit_as_sent.strip()
                if not 0 < len(visit) <= 30:
                    return n, False
                visit_sent, serials = visit_as_sent, seen.setdefault(visit, set())
            if when != moment:
                day, _ = day_of_text(when)
                if day is None:
                    return n, False
                moment = when
            _, _, patient_sent, med_sent, extension = terms
            if patient_sent is None:
                patient = ""
            elif type(patient_sent) is str:
                patient = patient_sent.strip()
                if len(patient) > 30:
                    return n, False
            else:
                return n, False
            if med_sent is None:
                med_type = None
            elif type(med_sent) is str:
                med_type = med_sent.strip()
                if len(med_type) > 6:
                    return n, False
                med_type = med_type or None
            else:
                return n, False
            if not extension:
                emergency = False
            elif (type(extension) is list and len(extension) == 1 and type(extension[0]) is dict
                  and (flag := extension[0].get("er_flag")) in _FLAGS):
                emergency = flag == "1"  # the common extension: one object flagging "0" or "1"
            else:
                found = _plain_emergency(extension)
                if found is None:
                    return n, False
                emergency = found
            terms_sent = terms
            if first is None:
                first = (visit, day, med_type, emergency)
            elif alike and first != (visit, day, med_type, emergency):
                alike = False
        cnt, pric, sumamt = get("cnt"), get("pric"), get("det_item_fee_sumamt")
        if type(cnt) is str and type(pric) is str and type(sumamt) is str:
            if sent is None or cnt != sent[0] or pric != sent[1] or sumamt != sent[2]:
                sent, amounts = (cnt, pric, sumamt), _amounts_of_text(cnt, pric, sumamt)
                if amounts is not None and amounts[3]:
                    alike = False  # a refund is never decided
            read = amounts
        else:
            read = _amounts(cnt, pric, sumamt)
            if read is not None and read[3]:
                alike = False
        if read is None:
            return n, False
        if sn in serials:
            return n, False
        serials.add(sn)
        total, count, price, refund = read
        # tuple.__new__: the NamedTuple's own __new__ is a Python call (~0.1 µs a line); the fields in order
        lines.append(_new(Line, (visit, sn, doctor, day, institution, patient, total, med_type, emergency, refund)))
        parts.append((sn, total, count, price))
    return len(details), alike


def _plain_emergency(extension: Any) -> bool | None:
    """``_emergency`` of an absent extension or of flag objects flagging "0", "1" or nothing; else None."""
    if not extension:
        return False
    if type(extension) is dict:
        extension = [extension]
    elif type(extension) is not list:
        return None
    flagged = False
    for item in extension:
        if type(item) is not dict:
            return None
        flag = item.get("er_flag")
        if flag == "1":
            flagged = True
        elif flag is not None and flag != "0" and flag != "":
            return None
    return flagged


@lru_cache(maxsize=8192)
def _amounts_of_text(cnt: str, pric: str, sumamt: str) -> tuple[Decimal, Decimal | None, Decimal | None, bool] | None:
    """``_amounts`` of three strings: an upload's lines mostly repeat a few prices."""
    return _amounts(cnt, pric, sumamt)


def _amounts(cnt: Any, pric: Any, sumamt: Any) -> tuple[Decimal, Decimal | None, Decimal | None, bool] | None:
    """The line's amount, count and price and whether it is a refund; None when one cannot be read."""
    try:
        count, price, total = amount(cnt), amount(pric), amount(sumamt)
    except Unreadable:
        return None
    found = line_amount(total, count, price)
    return found, count, price, is_refund(found, count)


def _read_line(detail: dict[str, Any], at: str, institution: str,
               seen: Seen) -> tuple[Line, tuple[Any, ...]] | Refusal:
    """The line, or its refusal; the fast path reads, ``_refusal`` names what is wrong."""
    get = detail.get
    try:
        sn = text(get("feedetl_sn"), 30)
        visit = text(get("mdtrt_id"), 30)
        patient = text(get("psn_no"), 30) or ""
        cnt = amount(get("cnt"))
        pric = amount(get("pric"))
        sumamt = amount(get("det_item_fee_sumamt"))
        doctor = code(get("bilg_dr_codg"))
        day = day_of(get("fee_ocur_time"))
        med_type = text(get("med_type"), 6)
        emergency = _emergency(get("exp_content"))
    except Unreadable:
        return _refusal(detail, at, seen)
    if not sn or not visit or doctor is None or day is None or sn in seen.get(visit, ()):
        return _refusal(detail, at, seen)
    seen.setdefault(visit, set()).add(sn)
    total = line_amount(sumamt, cnt, pric)
    line = Line(visit, sn, doctor, day, institution, patient, total, med_type, emergency, is_refund(total, cnt))
    return line, (sn, total, cnt, pric)


def _emergency(extension: Any) -> bool:
    """``exp_content.er_flag`` 1 (急诊) in the extension object or any of a list of them."""
    if type(extension) is list and len(extension) == 1 and type(extension[0]) is dict:
        flag = extension[0].get("er_flag")  # the common case: one object flagging "0" or "1"
        if flag in ("0", "1"):
            return bool(flag == "1")
    return bool(extension) and any(text(e.get("er_flag"), 3) == "1" for e in objects(extension))


def _refusal(detail: dict[str, Any], at: str, seen: Seen) -> Refusal:
    """Why a line cannot be decided, field by field, in the order the answer names them."""
    sn = visit = patient = ""
    total = _ZERO
    field = "feedetl_sn"
    try:
        sn = text(detail.get(field), 30) or ""
        field = "mdtrt_id"
        visit = text(detail.get(field), 30) or ""
        field = "psn_no"
        patient = text(detail.get(field), 30) or ""
        field = "cnt"
        cnt = amount(detail.get(field))
        field = "pric"
        pric = amount(detail.get(field))
        field = "det_item_fee_sumamt"
        sumamt = amount(detail.get(field))
        total = line_amount(sumamt, cnt, pric)
        field = "feedetl_sn"
        if not sn:
            raise Unreadable("is required: it names the line in the answer")
        field = "mdtrt_id"
        if not visit:
            raise Unreadable("is required: feedetl_sn is unique within a visit only")
        field = "feedetl_sn"
        if sn in seen.get(visit, ()):
            raise Unreadable("repeats an earlier line of the same visit")
        field = "bilg_dr_codg"
        if code(detail.get(field)) is None:
            raise Unreadable("is required: the ordering doctor (开单医生) decides the line")
        field = "fee_ocur_time"
        if day_of(detail.get(field)) is None:
            raise Unreadable("is required: the line is decided on its day")
        field = "med_type"
        text(detail.get(field), 6)
        field = "exp_content"
        for ext in objects(detail.get(field)):
            text(ext.get("er_flag"), 3)
    except Unreadable as exc:
        return Refusal(visit, sn, patient, total, f"{at}.{field}", str(exc))
    raise AssertionError(f"{at}: the fast path refused a line the checks accept")  # a bug, never the input's


def rows(read: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The fee-split rows of an accepted upload, built only when answered (no upstream)."""
    return [{"feedetl_sn": sn, **(_split(total, cnt, pric) if total and cnt and pric else _numbers(total, cnt, pric))}
            for sn, total, cnt, pric in read]


def rows_json(read: list[tuple[Any, ...]]) -> bytes:
    """``rows`` as orjson writes them, each row's amounts serialised once per distinct amounts
    (``_split_text``) and the ``feedetl_sn`` before them; the bytes of ``orjson.dumps(rows(read))``
    (tests/test_nhsa_readers.py compares the two)."""
    if len(read) == 1:  # most uploads of a visit's few fees: no list to cut
        sn, total, cnt, pric = read[0]
        return b'[{"feedetl_sn":' + orjson.dumps(sn)[:-1] + _row_text(total, cnt, pric) + b"]"
    if not read:
        return b"[]"
    sns = [part[0] for part in read]
    dumped = orjson.dumps(sns)
    # one dumps of the serials, cut at '","': exact when none needs an escape (then none holds a quote)
    texts = dumped[2:-2].split(b'","') if b"\\" not in dumped else [orjson.dumps(sn)[1:-1] for sn in sns]
    return b'[{"feedetl_sn":"%b]' % b',{"feedetl_sn":"'.join([
        text + _row_text(total, cnt, pric) for text, (_, total, cnt, pric) in zip(texts, read, strict=True)])


def _row_text(total: Decimal, cnt: Decimal | None, pric: Decimal | None) -> bytes:
    """A row's closing quote of its serial and its serialised amounts."""
    if total and cnt and pric:
        return _split_text(total, cnt, pric)
    return b'",' + orjson.dumps(_numbers(total, cnt, pric))[1:]


@lru_cache(maxsize=4096)
def _split_text(total: Decimal, cnt: Decimal, pric: Decimal) -> bytes:
    """A row's closing quote of its serial and its serialised amounts (``_split``), once per distinct amounts."""
    return b'",' + orjson.dumps(_split(total, cnt, pric))[1:]


@lru_cache(maxsize=4096)
def _split(total: Decimal, cnt: Decimal, pric: Decimal) -> dict[str, Any]:
    """``_numbers`` of non-zero amounts, once per distinct amounts (an upload repeats a few prices).

    Keyed by value: 12.5 and 12.50 give the same floats; a zero is not cached, -0 and 0 would not."""
    return _numbers(total, cnt, pric)


def _numbers(total: Decimal, cnt: Decimal | None, pric: Decimal | None) -> dict[str, Any]:
    """A fee-split row but for its ``feedetl_sn``."""
    price = float(pric) if pric is not None else 0.0  # 16,6
    return {
        "det_item_fee_sumamt": cents(total), "cnt": float(cnt) if cnt is not None else 0.0,
        "pric": price, "pric_uplmt_amt": price, "selfpay_prop": 0.0, "fulamt_ownpay_amt": 0.0, "overlmt_amt": 0.0,
        "preselfpay_amt": 0.0, "inscp_scp_amt": cents(total), "chrgitm_lv": "", "med_chrgitm_type": "",
        "bas_medn_flag": "0", "hi_nego_drug_flag": "0", "chld_medc_flag": "0", "list_sp_item_flag": "0",
        "lmt_used_flag": "0", "drt_reim_flag": "0", "memo": "",
    }
