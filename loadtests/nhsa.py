"""The seeded claim mix (``loadtests.claims``) as the national platform's transactions: 2204 fee
uploads and 3101 order checks, each with the lines it must reject.

A claim becomes one visit (``mdtrt_id`` = the claim id) whose lines keep their ids as
``feedetl_sn`` / ``rx_id``; an emergency claim (med_type 13) marks its 2204 lines with
``exp_content.er_flag`` 1 and its 3101 encounter with ``med_type`` 13.  Fields are written as HIS
code writes them: numbers as strings, blanks as "".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from loadtests.claims import SERVICE_DATE, Claim

__all__ = ["NhsaCall", "as_2204", "as_3101", "wrong_answer"]


@dataclass(frozen=True, slots=True)
class NhsaCall:
    infno: str
    body: bytes
    rejected: frozenset[str]  # feedetl_sn / rx_id the answer must name


def _envelope(infno: str, claim: dict[str, Any], payload: dict[str, Any]) -> bytes:
    return orjson.dumps({
        "infno": infno, "msgid": f"{claim['institution_code']}20260302100000{len(claim['lines']):04d}",
        "mdtrtarea_admvs": "330802", "insuplc_admdvs": "330802", "recer_sys_code": "HIS", "infver": "V1.0",
        "opter_type": "1", "opter": "0001", "opter_name": "", "inf_time": f"{SERVICE_DATE} 10:00:01",
        "fixmedins_code": claim["institution_code"], "fixmedins_name": "", "sign_no": "", "input": payload,
    })


def _rejected(claim: Claim) -> frozenset[str]:
    return frozenset(line.line_id for line in claim.lines if line.decision == "reject")


def as_2204(claim: Claim) -> NhsaCall:
    body = orjson.loads(claim.body)
    emergency = [{"er_flag": "1"}] if body["med_type"] == "13" else [{"er_flag": "0"}]
    lines = [{"feedetl_sn": ln["line_id"], "mdtrt_id": body["claim_id"], "psn_no": "33000000000000000012",
              "chrg_bchno": "CB1", "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": f"{SERVICE_DATE} 09:41:27",
              "med_list_codg": "XJ01CAA040A001010104022", "medins_list_codg": "1001", "det_item_fee_sumamt": "12.50",
              "cnt": "1.0000", "pric": "12.5000", "bilg_dept_codg": "A03", "bilg_dr_codg": ln["physician_code"],
              "bilg_dr_name": "", "orders_dr_code": "", "hosp_appr_flag": "1", "memo": "", "exp_content": emergency}
             for ln in body["lines"]]
    return NhsaCall("2204", _envelope("2204", body, {"feedetail": lines}), _rejected(claim))


def as_3101(claim: Claim) -> NhsaCall:
    body = orjson.loads(claim.body)
    orders = [{"rx_id": ln["line_id"], "rxno": "RX1", "drord_dr_codg": ln["physician_code"],
               "drord_begn_date": f"{SERVICE_DATE} 09:30:00", "sumamt": "12.50", "cnt": "1", "pric": "12.50",
               "curr_drord_flag": "1", "hilist_code": "XJ01CAA040A001010104022", "drord_dr_name": ""}
              for ln in body["lines"]]
    encounter = {"mdtrt_id": body["claim_id"], "medins_id": body["institution_code"], "med_type": body["med_type"],
                 "adm_date": f"{SERVICE_DATE} 09:00:00", "dr_codg": "", "fsi_order_dtos": orders}
    payload = {"data": {"trig_scen": "1", "rule_ids": "", "patient_dtos": [
        {"patn_id": "33000000000000000012", "fsi_encounter_dtos": [encounter]}]}}
    return NhsaCall("3101", _envelope("3101", body, payload), _rejected(claim))


def wrong_answer(call: NhsaCall, answer: Any) -> str | None:
    """What is wrong with ``answer`` (the parsed envelope), or None."""
    if not isinstance(answer, dict) or "infcode" not in answer:
        return "not the platform's envelope"
    results = (answer.get("output") or {}).get("result") or []
    if call.infno == "2204":
        if (answer["infcode"] in (-1, "-1")) != bool(call.rejected):
            return f"infcode {answer['infcode']} ({answer.get('err_msg', '')[:80]})"
        if not call.rejected:
            return None
    named = {d.get("rx_id") for r in results if isinstance(r, dict) for d in r.get("judge_result_detail_dtos", [])}
    return None if named == call.rejected else f"rejected {sorted(named)[:5]} != {sorted(call.rejected)[:5]}"
