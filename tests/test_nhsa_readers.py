"""The plain readers of the national platform's lines answer as the lenient ones, or leave the line to them.

``fees._plain_run`` and ``orders._plain_orders`` read the form most senders write without a call
per field; ``_read_line`` / ``_read_order`` read every form ``gateway.formats.nhsa.wire`` takes and
name the field of a line they refuse.  Wherever a plain reader answers, its answer must be the
lenient reader's: held here on every field fixture's lines and on odd values of every field read.
The rows, stamps and claim the answers are built from are held to what they were built as before.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.errors import Unreadable
from gateway.formats.nhsa import fees, orders
from gateway.formats.nhsa.lines import _ALIKE, Line, Refusal
from tests.nhsa import FIXTURES, INSTITUTION, OK, SUSPENDED, TODAY, fee, order

FEE_FIELDS = ("feedetl_sn", "mdtrt_id", "psn_no", "cnt", "pric", "det_item_fee_sumamt", "bilg_dr_codg",
              "fee_ocur_time", "med_type", "exp_content")
ORDER_FIELDS = ("rx_id", "curr_drord_flag", "sumamt", "cnt", "pric", "drord_dr_codg", "drord_begn_date")
#: Values real and broken senders put in a field: every type JSON has, blanks, padding, Unicode
#: whitespace strip() takes and patterns do not, numbers as text, dates in every form.
ODD: list[Any] = [
    None, "", "  ", "\u3000", "\x1c", True, False, 0, 1, -1, 17, 2.0, 12.5, -0.0, 1e300, [], {}, [1], ["1"],
    {"er_flag": "1"}, [{"er_flag": "1"}], [{"er_flag": 1}], [{"er_flag": "0"}, {"er_flag": "1"}], [{"er_flag": ""}],
    [{"er_flag": None}], [{}], [{"er_flag": " 1 "}], [{"er_flag": "1"}, 3], '{"er_flag":"1"}', "{",
    "1", "0", "-0", " 12.50 ", "12.50", "1e400", "1E1000000", "-25.60", "two", "NaN", "Infinity",
    "D330802000001", "d330802000002", " D330802000002 ", "D33:0802", "D" * 30, "D" * 31, "中文", "\u3000D1\u3000",
    f"{TODAY} 09:41:27", f"{TODAY}T09:41:27", f"{TODAY}", f"{TODAY}T10:29:00.1234567+08:00", "2024-02-30 10:00:00",
    "1899-12-31", "yesterday", f" {TODAY} 09:41:27", "9" * 30, "9" * 31, "9" * 50, "9" * 51, "13", "1234567",
]


def _fixture_lines() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = orjson.loads(path.read_bytes())
        for infno in ("2204", "2301"):
            if infno in fixture:
                details = fixture[infno]["input"]["feedetail"]
                found += [(path.stem, d) for d in (details if isinstance(details, list) else [details])]
    return found


def _fixture_orders() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = orjson.loads(path.read_bytes())
        for infno in ("3101", "3102"):
            data = fixture.get(infno, {}).get("input", {}).get("data")
            patients = data.get("patient_dtos") if isinstance(data, dict) else None
            for patient in patients if isinstance(patients, list) else []:
                for encounter in patient.get("fsi_encounter_dtos") or []:
                    found += [(path.stem, o) for o in encounter.get("fsi_order_dtos") or []]
    return found


def _plain_fee(detail: Any) -> tuple[Line, tuple[Any, ...]] | None:
    lines: list[Line] = []
    parts: list[Any] = []
    return (lines[0], parts[0]) if fees._plain_run([detail], 0, INSTITUTION, {}, lines, parts)[0] == 1 else None


def _agree_on_fee(detail: dict[str, Any]) -> None:
    plain = _plain_fee(detail)
    if plain is None:
        return
    lenient = fees._read_line(detail, "input.feedetail[0]", INSTITUTION, {})
    assert not isinstance(lenient, Refusal), (detail, lenient)
    assert plain == lenient, detail
    assert [type(v) for v in plain[0]] == [type(v) for v in lenient[0]], detail


def _plain_order(detail: Any) -> list[Line] | None:
    """The order as the plain reader reads it (``[]``: a past one), or None when it leaves it."""
    lines: list[Line] = []
    return lines if orders._plain_orders([detail], 0, "V1", "P1", INSTITUTION, "11", lines, 1)[0] == 1 else None


def _agree_on_order(detail: dict[str, Any]) -> None:
    plain = _plain_order(detail)
    if plain is None:
        return
    lines: list[Line] = []
    refusals: list[Refusal] = []
    orders._read_order(detail, "input.data", "V1", "P1", INSTITUTION, "11", lines, refusals)
    assert not refusals, (detail, refusals)
    assert lines == plain, detail
    assert [[type(v) for v in line] for line in plain] == [[type(v) for v in line] for line in lines], detail


@pytest.mark.parametrize(("source", "detail"), _fixture_lines(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_fixture_fee_line_reads_the_same_plain_or_lenient(source: str, detail: dict[str, Any]) -> None:
    _agree_on_fee(detail)


def test_the_fixtures_are_mostly_read_the_plain_way() -> None:
    lines = _fixture_lines()
    plain = [d for _, d in lines if _plain_fee(d) is not None]
    assert len(plain) >= len(lines) - 2  # ringls sends exp_content as JSON text: the lenient reader's


@pytest.mark.parametrize(("source", "detail"), _fixture_orders(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_fixture_order_reads_the_same_plain_or_lenient(source: str, detail: dict[str, Any]) -> None:
    _agree_on_order(detail)


@pytest.mark.parametrize("field", FEE_FIELDS)
@pytest.mark.parametrize("value", ODD, ids=repr)
def test_an_odd_fee_field_reads_the_same_plain_or_lenient(field: str, value: Any) -> None:
    detail = fee(1, OK, exp_content=[{"er_flag": "0"}], med_type="11")
    detail[field] = value
    _agree_on_fee(detail)


@pytest.mark.parametrize("field", FEE_FIELDS + ("absent",))
def test_a_fee_line_without_a_field_reads_the_same_plain_or_lenient(field: str) -> None:
    detail = fee(1, OK, exp_content=[{"er_flag": "1"}], med_type="13")
    detail.pop(field, None)
    _agree_on_fee(detail)


@pytest.mark.parametrize("field", ORDER_FIELDS)
@pytest.mark.parametrize("value", ODD, ids=repr)
def test_an_odd_order_field_reads_the_same_plain_or_lenient(field: str, value: Any) -> None:
    detail = order("RX1", OK)
    detail[field] = value
    _agree_on_order(detail)


@pytest.mark.parametrize("field", ORDER_FIELDS + ("absent",))
def test_an_order_without_a_field_reads_the_same_plain_or_lenient(field: str) -> None:
    detail = order("RX1", OK)
    detail.pop(field, None)
    _agree_on_order(detail)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
                     | st.text(max_size=40) | st.sampled_from(ODD[:60]),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["er_flag", "x"]),
                                                                                   inner, max_size=2), max_leaves=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FEE_FIELDS), _JSON, max_size=4))
def test_any_fee_field_values_read_the_same_plain_or_lenient(changes: dict[str, Any]) -> None:
    detail = fee(1, SUSPENDED)
    detail.update(changes)
    _agree_on_fee(detail)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(ORDER_FIELDS), _JSON, max_size=4))
def test_any_order_field_values_read_the_same_plain_or_lenient(changes: dict[str, Any]) -> None:
    detail = order("RX1", SUSPENDED)
    detail.update(changes)
    _agree_on_order(detail)


def _one_by_one(details: list[Any]) -> tuple[list[Line], list[Refusal], list[Any]]:
    """``read_fees`` as the lenient reader alone reads the upload: each line in turn."""
    lines: list[Line] = []
    refusals: list[Refusal] = []
    parts: list[Any] = []
    seen: fees.Seen = {}
    for i, detail in enumerate(details):
        read = fees._read_line(detail, f"input.feedetail[{i}]", INSTITUTION, seen)
        if isinstance(read, Refusal):
            refusals.append(read)
        else:
            lines.append(read[0])
            parts.append(read[1])
    return lines, refusals, parts


_VARIANTS = st.sampled_from([
    {}, {}, {"fee_ocur_time": f"{TODAY} 10:00:00"}, {"fee_ocur_time": f"{TODAY - timedelta(days=1)}T10:00:00"},
    {"fee_ocur_time": "yesterday"},
    {"cnt": "3", "pric": "1.5", "det_item_fee_sumamt": ""}, {"cnt": 3, "pric": 1.5}, {"det_item_fee_sumamt": "-25.60"},
    {"det_item_fee_sumamt": "two"}, {"bilg_dr_codg": ""}, {"bilg_dr_codg": " D330802000002 "}, {"psn_no": 17},
    {"exp_content": '{"er_flag":"1"}'}, {"exp_content": [{"er_flag": "1"}]}, {"mdtrt_id": "V-2"}, {"med_type": "13"},
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([(1, OK, {}), (2, OK, {"fee_ocur_time": "yesterday"}), (3, OK, {"cnt": "3"}), (4, OK, {"mdtrt_id": "V-2"})])
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from([OK, SUSPENDED]), _VARIANTS), min_size=1, max_size=8))
def test_an_upload_reads_as_its_lines_read_one_by_one(specs: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Runs of plain lines, the previous line's readings taken again, lenient lines between them."""
    details = [fee(sn, doctor, **changes) for sn, doctor, changes in specs]
    lines, refusals, parts, alike = fees.read_fees({"feedetail": details}, INSTITUTION)
    assert (lines, refusals, parts) == _one_by_one(details)
    assert not alike or len(set(map(_ALIKE, lines))) == 1 and not lines[0].refund


_ORDER_VARIANTS = st.sampled_from([
    {}, {}, {"drord_begn_date": f"{TODAY} 10:00:00"}, {"drord_begn_date": f"{TODAY - timedelta(days=1)}T10:00:00"},
    {"drord_begn_date": "yesterday"}, {"curr_drord_flag": "0"}, {"curr_drord_flag": ""}, {"curr_drord_flag": 1},
    {"cnt": "3", "pric": "1.5", "sumamt": ""}, {"cnt": 3, "pric": 1.5}, {"sumamt": "-25.60"}, {"sumamt": "two"},
    {"drord_dr_codg": ""}, {"drord_dr_codg": " D330802000002 "}, {"rx_id": " RX1 "}, {"rx_id": 7},
])


def _orders_one_by_one(found: list[Any]) -> tuple[list[Line], list[Refusal]]:
    lines: list[Line] = []
    refusals: list[Refusal] = []
    for o, detail in enumerate(found):
        orders._read_order(detail, f"input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[{o}]",
                           "V1", "P1", INSTITUTION, "11", lines, refusals)
    return lines, refusals


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([("1", OK, {}), ("2", OK, {"drord_begn_date": "yesterday"}), ("3", OK, {"cnt": "3"}), ("4", OK, {})])
@given(st.lists(st.tuples(st.sampled_from(["1", "2", "3"]), st.sampled_from([OK, SUSPENDED]), _ORDER_VARIANTS),
                min_size=1, max_size=8))
def test_an_encounters_orders_read_as_they_read_one_by_one(specs: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Runs of plain orders, the previous order's readings taken again, lenient orders between them;
    an analysis found alike is of one day and has no refund."""
    found = [order(rx, doctor, **changes) for rx, doctor, changes in specs]
    payload = {"data": {"patient_dtos": [{"patn_id": "P1", "fsi_encounter_dtos": [
        {"mdtrt_id": "V1", "medins_id": INSTITUTION, "med_type": "11", "fsi_order_dtos": found}]}]}}
    analysis = orders.read_analysis(payload, INSTITUTION)
    assert (analysis.lines, analysis.refusals) == _orders_one_by_one(found)
    if analysis.alike:
        assert len(set(map(_ALIKE, analysis.lines))) == 1 and not analysis.lines[0].refund


@pytest.mark.parametrize(("position", "count"), [(0, 3), (2, 3), (0, 6), (5, 6)])
def test_an_order_that_is_not_an_object_is_named_by_its_index(position: int, count: int) -> None:
    found: list[Any] = [order(str(n), OK) for n in range(count)]
    found[position] = "RX"
    encounter = {"mdtrt_id": "V1", "fsi_order_dtos": found}
    payload = {"data": {"patient_dtos": [{"patn_id": "P1", "fsi_encounter_dtos": [encounter]}]}}
    with pytest.raises(Unreadable, match=re.escape(f"fsi_order_dtos[{position}]: must be an object")):
        orders.read_analysis(payload, INSTITUTION)


def test_a_bench_analysis_is_found_alike() -> None:
    from loadtests.claims import make_claims
    from loadtests.nhsa import as_3101

    for c in make_claims(1000, 20, 30):
        envelope = orjson.loads(as_3101(c).body)
        assert orders.read_analysis(envelope["input"], envelope["fixmedins_code"]).alike
