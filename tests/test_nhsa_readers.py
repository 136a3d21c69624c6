"""The plain readers of the national platform's lines answer as the lenient ones, or leave the line to them.

``fees._plain_run`` and ``orders._plain_orders`` read the form most senders write without a call
per field; ``_read_line`` / ``_read_order`` read every form ``gateway.formats.nhsa.wire`` takes and
name the field of a line they refuse.  Wherever a plain reader answers, its answer must be the
lenient reader's: held here on every field fixture's lines and on odd values of every field read.
The rows, stamps and claim the answers are built from are held to what they were built as before.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.check.core import DecidedLine
from gateway.check.reasons import REJECT
from gateway.check.status import CHINA
from gateway.cli.demo import DEMO
from gateway.errors import Unreadable
from gateway.formats.nhsa import fees, orders, results
from gateway.formats.nhsa.envelope import Responder, _stamp
from gateway.formats.nhsa.handlers import summary
from gateway.formats.nhsa.lines import _ALIKE, Decided, Line, Refusal, _claim
from gateway.formats.nhsa.wire import cents
from gateway.settings import Settings
from tests.claims import claim
from tests.nhsa import OK, SUSPENDED, TODAY, fee, inpatient, order

FIXTURES = Path(__file__).parent / "fixtures" / "nhsa"
INSTITUTION = "H33080200001"
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


def _row_as_built(sn: str, total: Decimal, cnt: Decimal | None, pric: Decimal | None) -> dict[str, Any]:
    """A fee-split row as it was built field by field before its numbers were kept per amount."""
    price = float(pric) if pric is not None else 0.0
    return {
        "feedetl_sn": sn, "det_item_fee_sumamt": cents(total), "cnt": float(cnt) if cnt is not None else 0.0,
        "pric": price, "pric_uplmt_amt": price, "selfpay_prop": 0.0, "fulamt_ownpay_amt": 0.0, "overlmt_amt": 0.0,
        "preselfpay_amt": 0.0, "inscp_scp_amt": cents(total), "chrgitm_lv": "", "med_chrgitm_type": "",
        "bas_medn_flag": "0", "hi_nego_drug_flag": "0", "chld_medc_flag": "0", "list_sp_item_flag": "0",
        "lmt_used_flag": "0", "drt_reim_flag": "0", "memo": "",
    }


def test_fee_split_rows_serialise_as_built_field_by_field() -> None:
    amounts = [("12.5", "1", "12.5"), ("12.50", "1.0000", "12.5000"), ("0", "0", "0"), ("-0", "-0", "-0"),
               ("-25.60", "-2", "12.8"), ("1E+1", "10", "1"), ("99999999999999.99", "1", "99999999999999.99")]
    parts: list[tuple[Any, ...]] = [(f"{n}", Decimal(t), Decimal(c), Decimal(p))
                                    for n, (t, c, p) in enumerate(amounts * 2)]
    parts.append(("x", Decimal(0), None, None))
    assert orjson.dumps(fees.rows(parts)) == orjson.dumps([_row_as_built(*p) for p in parts])


def _bench_and_fixture_uploads() -> list[list[Any]]:
    from loadtests.claims import make_claims
    from loadtests.nhsa import as_2204

    found = [orjson.loads(as_2204(c).body)["input"]["feedetail"] for n in (1, 20) for c in make_claims(1000, n, 30)]
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = orjson.loads(path.read_bytes())
        found += [fixture[infno]["input"]["feedetail"] for infno in ("2204", "2301") if infno in fixture]
    return found


def test_fee_split_rows_are_written_as_orjson_writes_them() -> None:
    """``rows_json`` is the bytes of ``orjson.dumps(rows)``: the test's amounts, serials that need an
    escape or hold no ASCII, every fixture's and the bench's uploads."""
    amounts = [("12.5", "1", "12.5"), ("12.50", "1.0000", "12.5000"), ("0", "0", "0"), ("-0", "-0", "-0"),
               ("-25.60", "-2", "12.8"), ("1E+1", "10", "1"), ("99999999999999.99", "1", "99999999999999.99")]
    parts: list[tuple[Any, ...]] = [(f"{n}", Decimal(t), Decimal(c), Decimal(p))
                                    for n, (t, c, p) in enumerate(amounts * 2)]
    parts.append(("x", Decimal(0), None, None))
    for sns in (["1", "2"], ['a"b', "c"], ["a\\b", "\u00e9"], ["明细1", '","'], ["", "\n"], ['"'], ["é"], ["1"]):
        uploads = [[(sn, Decimal("1.5"), Decimal(1), Decimal("1.5")) for sn in sns],
                   [(sn, *p[1:]) for sn, p in zip(sns, parts[-len(sns):], strict=True)]]
        for read in uploads:
            assert fees.rows_json(read) == orjson.dumps(fees.rows(read))
    assert fees.rows_json(parts) == orjson.dumps(fees.rows(parts))
    assert fees.rows_json([]) == orjson.dumps(fees.rows([]))
    for details in _bench_and_fixture_uploads():
        _, _, read, _ = fees.read_fees({"feedetail": details}, INSTITUTION)
        assert fees.rows_json(read) == orjson.dumps(fees.rows(read))


def test_an_upload_its_reader_finds_alike_is_of_one_visit_and_terms() -> None:
    """``read_fees`` says whether ``decide`` may take the lines as one visit's (``_ALIKE``) without looking:
    never wrongly, and for the bench's uploads (one visit each, no refund) always."""
    for details in _bench_and_fixture_uploads():
        lines, refusals, _, alike = fees.read_fees({"feedetail": details}, INSTITUTION)
        if alike:
            assert not refusals and len(set(map(_ALIKE, lines))) == 1 and not lines[0].refund
    from loadtests.claims import make_claims
    from loadtests.nhsa import as_2204

    for c in make_claims(1000, 20, 30):
        assert fees.read_fees(orjson.loads(as_2204(c).body)["input"], INSTITUTION)[3]
    varied = [fee(1, OK), fee(2, OK, fee_ocur_time=f"{TODAY - timedelta(days=1)} 10:00:00")]
    assert not fees.read_fees({"feedetail": varied}, INSTITUTION)[3]
    assert not fees.read_fees({"feedetail": [fee(1, OK), fee(2, OK, cnt="-1")]}, INSTITUTION)[3]


def _summary_as_cut(items: list[str], limit: int = 200) -> str:
    """``err_msg`` as ``handlers.summary`` wrote it before its shortcut: an item at a time, cut before
    the first that would leave no room for "; 另 n 条"."""
    text = f"明细审核未通过 {len(items)} 条: "
    for n, item in enumerate(items):
        joined = text + ("; " if n else "") + item
        remaining = len(items) - n - 1
        if len(joined) + (len(f"; 另 {remaining} 条") if remaining else 0) > limit:
            return text + ("; " if n else "") + f"另 {len(items) - n} 条"
        text = joined
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=40), st.sampled_from(["suspended", "no_agreement", "x"])),
                max_size=40), st.lists(st.sampled_from(["", "7"]), max_size=3), st.integers(20, 220))
def test_err_msg_is_cut_where_it_was(items: list[tuple[str, str]], refused: list[str], limit: int) -> None:
    decided = [Decided(Line("V", sn, OK, "2026-12-01", INSTITUTION, "", Decimal(1), None, False, False),
                       DecidedLine(sn, OK, REJECT, reason, None, None, [], None), "d", OK) for sn, reason in items]
    refusals = [Refusal("V", sn, "", Decimal(0), "input.feedetail[0].fee_ocur_time", "why") for sn in refused]
    named = [f"{sn} {reason}" for sn, reason in items] + [f"{sn or '-'} unreadable fee_ocur_time" for sn in refused]
    if named:
        assert summary(decided, refusals, limit) == _summary_as_cut(named, limit)


_STAMPS = re.compile(rb'"inf_refmsgid":"\d{30}","refmsg_time":"\d{17}","respond_time":"\d{17}"')


@pytest.mark.parametrize("infcode_text", [False, True])
def test_an_envelope_written_around_its_output_is_the_envelope_serialised(infcode_text: bool) -> None:
    received = datetime(2026, 12, 1, 9, 41, 30, 112_999, CHINA)
    for output in ({"result": []}, {"result": [{"feedetl_sn": "1", "cnt": 1.0}]}, {}):
        written = Responder(infcode_text=infcode_text).success_json(orjson.dumps(output), received, "330800")
        dumped = orjson.dumps(Responder(infcode_text=infcode_text).success(output, received, "330800"))
        assert _STAMPS.search(written) and _STAMPS.sub(b"", written) == _STAMPS.sub(b"", dumped)


@pytest.mark.parametrize("moment", [
    datetime(2026, 12, 1, 9, 41, 30, 112_999, CHINA), datetime(2026, 12, 31, 23, 59, 59, 999_999, CHINA),
    datetime(2026, 12, 31, 16, 0, 0, 500, UTC), datetime(1999, 1, 1, 0, 0, 0, 0, timezone(timedelta(hours=-5))),
])
def test_stamps_are_the_moment_in_shanghai_to_the_millisecond(moment: datetime) -> None:
    assert _stamp(moment) == moment.astimezone(CHINA).strftime("%Y%m%d%H%M%S%f")[:17]


def _line(sn: str, med_type: str | None = None, emergency: bool = False, day: str = "2026-12-01") -> Line:
    return Line("V1", sn, OK.lower(), day, INSTITUTION, "P1", Decimal(1), med_type, emergency, False)


def test_terms_every_line_shares_are_the_claims() -> None:
    claim, resolved = _claim("M1", INSTITUTION, [_line("1", "13", True), _line("2", "13", True)], None)
    assert claim["med_type"] == "13" and claim["emergency"] is True
    assert claim["lines"] == [{"line_id": "1", "physician_code": OK}, {"line_id": "2", "physician_code": OK}]
    assert resolved == [OK, OK]


@pytest.mark.parametrize("codes", [["D1", "d2", "123"], ["D1", "D2", "123"], ["123"], ["d1"], ["D1", "Dx"]])
def test_a_claims_codes_are_the_codes_upper_cased(codes: list[str]) -> None:
    group = [Line("V1", str(n), code, "2026-12-01", INSTITUTION, "", Decimal(1), None, False, False)
             for n, code in enumerate(codes)]
    claim, resolved = _claim("M1", INSTITUTION, group, None, True)
    assert resolved == [code.upper() for code in codes]
    assert [line["physician_code"] for line in claim["lines"]] == resolved


def test_terms_the_lines_differ_in_stay_the_lines() -> None:
    claim, _ = _claim("M1", INSTITUTION, [_line("1", "13", True), _line("2", None, False, "2026-12-02"),
                                          _line("3", "21")], None)
    assert "med_type" not in claim and "emergency" not in claim
    assert claim["lines"] == [{"line_id": "1", "physician_code": OK, "emergency": True, "med_type": "13"},
                              {"line_id": "2", "physician_code": OK, "service_date": "2026-12-02"},
                              {"line_id": "3", "physician_code": OK, "med_type": "21"}]


def test_a_claim_of_lines_found_alike_is_the_claim_of_the_lines_looked_at_again() -> None:
    """``decide`` finds in one pass that every line is of one visit and terms and tells ``_claim``."""
    for body in ([fee(1, OK), fee(2, SUSPENDED), fee(3, OK)], [inpatient(1, SUSPENDED, "21"), inpatient(2, OK, "21")],
                 [fee(1, OK, exp_content=[{"er_flag": "1"}]), fee(2, OK, exp_content=[{"er_flag": "1"}])]):
        lines, _, _, _ = fees.read_fees({"feedetail": body}, INSTITUTION)
        assert len(set(map(_ALIKE, lines))) == 1
        assert _claim("M1", INSTITUTION, lines, None, True) == _claim("M1", INSTITUTION, lines, None)


def test_lines_of_one_upload_are_exempt_by_their_own_med_type_or_flag() -> None:
    body = [inpatient(1, SUSPENDED, "13"), inpatient(2, SUSPENDED, "21"),
            inpatient(3, SUSPENDED, "21", exp_content=[{"er_flag": "1"}])]
    lines, refusals, _, _ = fees.read_fees({"feedetail": body}, INSTITUTION)
    assert not refusals
    claim, _ = _claim("M1", INSTITUTION, lines, None)
    assert [("med_type" in line, "emergency" in line) for line in claim["lines"]] == [
        (True, False), (True, False), (True, True)]


def test_the_rejected_lines_are_those_of_the_results_lines(settings: Settings, published: None) -> None:
    """``ClaimResult.rejected`` reads the memoised verdicts: the lines it builds are ``lines``'s, before
    and after ``lines`` is read."""
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]

        async def decided() -> Any:
            return await state.checks.check(state.reader, claim(*DEMO, *DEMO), 0.0, "nhsa2204")

        result = client.portal.call(decided)
    found = result.rejected()
    assert found == [(n, line) for n, line in enumerate(result.lines) if line.decision == REJECT]
    assert result.rejected() == found  # from the lines, now built
    assert len({line.reason for _, line in found}) >= 4  # every reason the demo data rejects for


@pytest.mark.parametrize("amounts", [["12.5"], ["12.50"], ["-0"], ["0"], ["-0.00", "0"], ["12.5", "-25.60", "1E+1"],
                                     ["99999999999999.99"], ["0.005"], ["-0.005"]])
def test_a_results_amounts_are_as_summed_and_rounded_before(amounts: list[str]) -> None:
    """``vola_amt``: the sum from Decimal(0) rounded to fen, a -0 as it was (0.0 summed, -0.0 alone)."""
    details = [(str(n), Decimal(a)) for n, a in enumerate(amounts)]
    for sent in (details, details * 2):
        result = results._result("J-1", "R", "r", "c", "P", "V", sent, "1", "", "T", results.Dictionary())
        assert orjson.dumps(result["vola_amt"]) == orjson.dumps(cents(sum((a for _, a in sent), Decimal(0))))
        assert orjson.dumps([d["vola_amt"] for d in result["judge_result_detail_dtos"]]) == orjson.dumps(
            [cents(a) for _, a in sent])
