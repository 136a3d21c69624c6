"""3101/3102 明细审核 input: ``input.data`` → the orders to decide, and those that cannot be.

    data.trig_scen                      触发场景: 1–5 事前, 6–10 事中 (hsa-his ``TrigScen.java``)
    data.rule_ids                       规则标识集合: a list, or a comma-separated string (openhis
                                        declares it ``string``); empty: every rule
    data.patient_dtos[].patn_id         参保人标识 → ``patn_id`` of the results
      .fsi_encounter_dtos[].mdtrt_id    就诊标识
      .fsi_encounter_dtos[].medins_id   定点医疗机构 (else the envelope's ``fixmedins_code``)
      .fsi_encounter_dtos[].med_type    医疗类别: exempt when in the emergency/rescue codes
        .fsi_order_dtos[].rx_id         处方(医嘱)标识 → ``rx_id`` of the result's details
        .fsi_order_dtos[].drord_dr_codg 开处方(医嘱)医生标识: the doctor who decides the order
        .fsi_order_dtos[].drord_begn_date  医嘱开始日期: the day decided on
        .fsi_order_dtos[].sumamt        总费用 (else ``cnt`` × ``pric``) → ``vola_amt``
        .fsi_order_dtos[].curr_drord_flag  0: a past order sent as context, not decided

The encounter's own ``dr_codg`` is the visit's doctor, not the order's: an order without
``drord_dr_codg`` is refused by itself rather than decided on someone else's agreement.

As with the fee lines (``gateway.formats.nhsa.fees``), ``_plain_orders`` reads an encounter's orders
written the plain way in one loop, without a call per order or field, and hands any other to
``_read_order``, the lenient reader.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from gateway.errors import Unreadable
from gateway.formats.nhsa.lines import Line, Refusal
from gateway.formats.nhsa.wire import amount, as_list, code, day_of, day_of_text, is_refund, line_amount, text

__all__ = ["Analysis", "read_analysis"]

MAX_ORDERS = 1000  # orders decided in one request, as /v1's lines
_ZERO = Decimal(0)


class Analysis(NamedTuple):  # one a request: a NamedTuple costs a third of a frozen dataclass
    trig_scen: str | None
    rule_ids: frozenset[str]
    lines: list[Line]
    refusals: list[Refusal]
    alike: bool = False  # one encounter's orders, all on one day, none a refund (``lines.decide``'s ``alike``)


def read_analysis(payload: dict[str, Any], institution: str | None) -> Analysis:
    """The orders of ``input`` (its ``data``); ``Unreadable`` with the path when the structure is."""
    data = _one(payload.get("data"), "input.data")
    trig_scen = _field(text, data, "trig_scen", "input.data", 3)
    rule_ids = frozenset(_rule_ids(data.get("rule_ids")))
    lines: list[Line] = []
    refusals: list[Refusal] = []
    encounters = 0
    alike = mixed = False  # mixed: an order read by the lenient reader (the plain runs around it say nothing of it)
    for p, patient in enumerate(_list(data.get("patient_dtos"), "input.data.patient_dtos")):
        at = f"input.data.patient_dtos[{p}]"
        patn_id = _field(text, patient, "patn_id", at, 50) or ""
        for e, encounter in enumerate(_list(patient.get("fsi_encounter_dtos"), f"{at}.fsi_encounter_dtos")):
            where = f"{at}.fsi_encounter_dtos[{e}]"
            visit = _field(text, encounter, "mdtrt_id", where, 50) or ""
            medins = _field(code, encounter, "medins_id", where) or institution
            med_type = _field(text, encounter, "med_type", where, 6)
            found = _list(encounter.get("fsi_order_dtos"), f"{where}.fsi_order_dtos")
            encounters += 1
            o = 0
            while o < len(found):  # plain orders, then one for the lenient reader, then plain ones again
                if visit and medins:
                    o, alike = _plain_orders(found, o, visit, patn_id, medins, med_type, lines,
                                             MAX_ORDERS - len(refusals))
                    if o == len(found):
                        break
                mixed = True
                if len(lines) + len(refusals) >= MAX_ORDERS:
                    raise Unreadable(_TOO_MANY)
                _read_order(found[o], f"{where}.fsi_order_dtos[{o}]", visit, patn_id, medins, med_type, lines,
                            refusals)
                o += 1
    return Analysis(trig_scen, rule_ids, lines, refusals, alike and not mixed and encounters == 1 and bool(lines))


_TOO_MANY = f"input.data: more than {MAX_ORDERS} orders; send them in several requests"
_KEYED = itemgetter("rx_id", "drord_dr_codg", "drord_begn_date")
_new = tuple.__new__


def _plain_orders(orders: list[dict[str, Any]], start: int, visit: str, patient: str, medins: str,
                  med_type: str | None, lines: list[Line], room: int) -> tuple[int, bool]:
    """Read the orders from ``start`` on as ``_read_order`` reads them while they are written the plain
    way (a past one skipped, as it skips it); the index of the first that is not (``len(orders)``:
    none), and whether those read share one day and none is a refund.  ``room``: the orders the request
    may still decide, refusals counted (``Unreadable`` past them, as ``read_analysis`` says).

    An encounter's orders mostly share their day and often their amounts: the previous order's
    readings are taken again when the text is the same (amounts only when all three are text)."""
    begun_sent: Any = None
    day: str | None = None
    first_day: str | None = None
    alike = True
    sent: tuple[str, str, str] | None = None
    amounts: tuple[Decimal, bool] | None = None
    for n in range(start, len(orders)):
        order = orders[n]
        try:
            rx_id, doctor, begun = _KEYED(order)
        except KeyError:
            return n, False
        if type(rx_id) is not str or type(doctor) is not str or type(begun) is not str:
            return n, False
        rx_id = rx_id.strip()
        # A code as CODE takes it: 1–30 ASCII letters or digits (ASCII isalnum is exactly [A-Za-z0-9]).
        if not (0 < len(rx_id) <= 50 and len(doctor) <= 30 and doctor.isascii() and doctor.isalnum()):
            return n, False
        get = order.get
        current = get("curr_drord_flag")
        if current == "0":
            if len(lines) >= room:
                raise Unreadable(_TOO_MANY)
            continue  # a past order, sent for context (是否当前处方: 0 否)
        if current is not None and current != "1" and current != "":
            return n, False
        if begun != begun_sent:
            day, _ = day_of_text(begun)
            if day is None:
                return n, False
            begun_sent = begun
            if first_day is None:
                first_day = day
            elif day != first_day:
                alike = False
        sumamt, cnt, pric = get("sumamt"), get("cnt"), get("pric")
        if type(sumamt) is str and type(cnt) is str and type(pric) is str:
            if sent is None or sumamt != sent[0] or cnt != sent[1] or pric != sent[2]:
                sent, amounts = (sumamt, cnt, pric), _amounts_of_text(sumamt, cnt, pric)
            read = amounts
        else:
            read = _amounts(sumamt, cnt, pric)
        if read is None:
            return n, False
        if len(lines) >= room:
            raise Unreadable(_TOO_MANY)
        total, refund = read
        if refund:
            alike = False  # a refund is never decided
        # tuple.__new__: the NamedTuple's own __new__ is a Python call (~0.1 µs an order); the fields in order
        lines.append(_new(Line, (visit, rx_id, doctor, day, medins, patient, total, med_type, False, refund)))
    return len(orders), alike


@lru_cache(maxsize=8192)
def _amounts_of_text(sumamt: str, cnt: str, pric: str) -> tuple[Decimal, bool] | None:
    """``_amounts`` of three strings: a request's orders mostly repeat a few prices."""
    return _amounts(sumamt, cnt, pric)


def _amounts(sumamt: Any, cnt: Any, pric: Any) -> tuple[Decimal, bool] | None:
    """The order's amount and whether it is a refund; None when one of them cannot be read."""
    try:
        total, count, price = amount(sumamt), amount(cnt), amount(pric)
    except Unreadable:
        return None
    found = line_amount(total, count, price)
    return found, is_refund(found, count)


def _read_order(order: dict[str, Any], at: str, visit: str, patient: str, medins: str | None,
                med_type: str | None, lines: list[Line], refusals: list[Refusal]) -> None:
    get = order.get
    try:
        rx_id = text(get("rx_id"), 50)
        if text(get("curr_drord_flag"), 3) == "0":
            return  # a past order, sent for context (是否当前处方: 0 否)
        total = amount(get("sumamt"))
        cnt = amount(get("cnt"))
        pric = amount(get("pric"))
        doctor = code(get("drord_dr_codg"))
        day = day_of(get("drord_begn_date"))
    except Unreadable:
        refusals.append(_refusal(order, at, visit, patient, medins))
        return
    if not rx_id or not visit or doctor is None or day is None or medins is None:
        refusals.append(_refusal(order, at, visit, patient, medins))
        return
    sumamt = line_amount(total, cnt, pric)
    lines.append(Line(visit, rx_id, doctor, day, medins, patient, sumamt, med_type, False, is_refund(sumamt, cnt)))


def _refusal(order: dict[str, Any], at: str, visit: str, patient: str, medins: str | None) -> Refusal:
    """Why an order cannot be decided, naming the field."""
    rx_id = ""
    sumamt = _ZERO
    field = "rx_id"
    try:
        rx_id = text(order.get(field), 50) or ""
        field = "sumamt"
        total = amount(order.get(field))
        field = "cnt"
        cnt = amount(order.get(field))
        field = "pric"
        pric = amount(order.get(field))
        sumamt = line_amount(total, cnt, pric)
        field = "rx_id"
        if not rx_id:
            raise Unreadable("is required: it names the order in the answer")
        if not visit:
            field = "mdtrt_id"
            raise Unreadable("of the encounter is required")
        field = "drord_dr_codg"
        if code(order.get(field)) is None:
            raise Unreadable("is required: the ordering doctor decides the order")
        field = "drord_begn_date"
        if day_of(order.get(field)) is None:
            raise Unreadable("is required: the order is decided on its day")
        field = "medins_id"
        if medins is None:
            raise Unreadable("of the encounter (or the envelope's fixmedins_code) is required")
        field = "curr_drord_flag"
        text(order.get(field), 3)
    except Unreadable as exc:
        return Refusal(visit, rx_id, patient, sumamt, f"{at}.{field}", str(exc))
    raise AssertionError(f"{at}: the fast path refused an order the checks accept")  # a bug, never the input's


def _rule_ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    try:
        return [found for item in as_list(value) if (found := text(item, 50))]
    except Unreadable:
        raise Unreadable("input.data.rule_ids: must be a list of rule ids or a comma-separated string") from None


def _one(value: Any, at: str) -> dict[str, Any]:
    try:
        found = as_list(value)
    except Unreadable as exc:
        raise Unreadable(f"{at}: {exc}") from None
    if len(found) != 1 or not isinstance(found[0], dict):
        raise Unreadable(f"{at}: must be one object")
    return found[0]


def _list(value: Any, at: str) -> list[dict[str, Any]]:
    try:
        found = as_list(value)
    except Unreadable as exc:
        raise Unreadable(f"{at}: {exc}") from None
    if len(found) > 4 and all(map(isinstance, found, repeat(dict))):  # a long list: one C loop
        return found
    for i, item in enumerate(found):
        if not isinstance(item, dict):
            raise Unreadable(f"{at}[{i}]: must be an object")
    return found


def _field(reader: Any, obj: dict[str, Any], name: str, at: str, *args: Any) -> Any:
    try:
        return reader(obj.get(name), *args)
    except Unreadable as exc:
        raise Unreadable(f"{at}.{name}: {exc}") from None
