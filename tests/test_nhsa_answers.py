"""The national platform's claim and answer as the fast paths build them: fee-split rows, err_msg,
the envelope, stamps, the claim's shared terms and codes, the rejected lines, a result's amounts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.check.core import DecidedLine
from gateway.check.reasons import REJECT
from gateway.check.status import CHINA
from gateway.cli.demo import DEMO
from gateway.formats.nhsa import fees, results
from gateway.formats.nhsa.envelope import Responder, _stamp
from gateway.formats.nhsa.handlers import cut_summary, summary
from gateway.formats.nhsa.lines import _ALIKE, Decided, Line, Refusal, _claim
from gateway.formats.nhsa.wire import cents
from gateway.settings import Settings
from tests.claims import claim
from tests.nhsa import FIXTURES, INSTITUTION, OK, SUSPENDED, TODAY, fee, inpatient


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=40), st.sampled_from(["suspended", "no_agreement", "x"])),
                max_size=40), st.lists(st.sampled_from(["", "7"]), max_size=3), st.integers(20, 220))
def test_err_msg_is_cut_where_it_was(items: list[tuple[str, str]], refused: list[str], limit: int) -> None:
    decided = [Decided(Line("V", sn, OK, "2026-12-01", INSTITUTION, "", Decimal(1), None, False, False),
                       DecidedLine(sn, OK, REJECT, reason, None, None, [], None), "d", OK) for sn, reason in items]
    refusals = [Refusal("V", sn, "", Decimal(0), "input.feedetail[0].fee_ocur_time", "why") for sn in refused]
    named = [f"{sn} {reason}" for sn, reason in items] + [f"{sn or '-'} unreadable fee_ocur_time" for sn in refused]
    if named:
        assert summary(decided, refusals, limit) == cut_summary(named, limit)


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
