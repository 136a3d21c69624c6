"""OpenAPI examples of the ``/nhsa/`` transactions: a pass, a rejection, an exemption, a refused line."""

from __future__ import annotations

from typing import Any

from gateway.check.reasons import DOUBTFUL, SUSPENDED
from gateway.formats.nhsa.results import REFUSED, RULES, SEVERITY

__all__ = ["answers", "requests"]

_VISIT = "330800G0000123456789"
_TASK = "9f0c3e1a2b4d5c6e0000000000000001"


def _envelope(infno: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"infno": infno, "msgid": "H33080200001202612010828271037", "mdtrtarea_admvs": "330802",
            "insuplc_admdvs": "330802", "inf_time": "2026-12-01 09:41:30", "fixmedins_code": "H33080200001",
            "opter": "0001", "opter_type": "1", "infver": "V1.0", "sign_no": "", "input": payload}


def _fee(sn: str, doctor: str, **extra: Any) -> dict[str, Any]:
    return {"feedetl_sn": sn, "mdtrt_id": _VISIT, "psn_no": "33000000000000000012", "bilg_dr_codg": doctor,
            "fee_ocur_time": "2026-12-01 09:41:27", "det_item_fee_sumamt": "25.60", "cnt": "2.0000",
            "pric": "12.8000", "orders_dr_code": "", "memo": "", **extra}


def _order(rx: str, doctor: str) -> dict[str, Any]:
    return {"rx_id": rx, "drord_dr_codg": doctor, "drord_begn_date": "2026-12-01 09:30:00", "sumamt": "25.60",
            "cnt": "2", "pric": "12.80", "curr_drord_flag": "1"}


def _analysis(orders: list[dict[str, Any]], med_type: str = "11") -> dict[str, Any]:
    return {"data": {"trig_scen": "2", "rule_ids": "", "patient_dtos": [{"patn_id": "33000000000000000012",
            "fsi_encounter_dtos": [{"mdtrt_id": _VISIT, "medins_id": "H33080200001", "med_type": med_type,
                                    "dr_codg": "D330802000001", "fsi_order_dtos": orders}]}]}}


def requests(infno: str) -> dict[str, Any]:
    if infno == "3103":
        return {"continue": {"summary": "the doctor goes on, with a reason", "value": _envelope(infno, {"data": {
            "warn_type": "1", "warns": [{"warn_rslt_id": f"{_TASK}-1", "dspo_way": "1",
                                         "dspo_way_rea": "抢救用药，已报备"}]}})}}
    if infno in ("3101", "3102"):
        def case(summary: str, rx: str, doctor: str, med_type: str = "11") -> dict[str, Any]:
            return {"summary": summary, "value": _envelope(infno, _analysis([_order(rx, doctor)], med_type))}

        return {"pass": case("an agreed doctor", "1", "D330802000001"),
                "reject": case("a suspended doctor", "2", "D330802000002"),
                "exempt": case("an emergency visit (med_type 13)", "3", "D330802000002", "13"),
                "refusal": case("an order without its doctor", "4", "")}
    extra = {"med_type": "21"} if infno == "2301" else {}
    return {
        "pass": {"summary": "every line passes", "value": _envelope(infno, {"feedetail": [
            _fee("20261201000001", "D330802000001", **extra)]})},
        "reject": {"summary": "a suspended doctor's line", "value": _envelope(infno, {"feedetail": [
            _fee("20261201000002", "D330802000002", **extra)]})},
        "exempt": {"summary": "an emergency line (exp_content.er_flag 1)", "value": _envelope(infno, {"feedetail": [
            _fee("20261201000003", "D330802000002", exp_content=[{"er_flag": "1"}], **extra)]})},
        "refusal": {"summary": "a line without bilg_dr_codg", "value": _envelope(infno, {"feedetail": [
            _fee("20261201000004", "", **extra)]})},
    }


def _result(rule_id: str, rule_name: str, content: str, rx_id: str, evidence: str, severity: str) -> dict[str, Any]:
    return {"jr_id": f"{_TASK}-1", "rule_id": rule_id, "rule_name": rule_name, "vola_cont": content,
            "patn_id": "33000000000000000012", "mdtrt_id": _VISIT,
            "judge_result_detail_dtos": [{"jrd_id": f"{_TASK}-1-1", "patn_id": "33000000000000000012",
                                          "mdtrt_id": _VISIT, "rx_id": rx_id, "vola_item_type": "1", "vola_amt": 25.6}],
            "vola_amt": 25.6, "vola_amt_stas": "1", "sev_deg": severity, "vola_evid": evidence, "vola_bhvr_type": "1",
            "task_id": _TASK}


_SUSPENDED = (*RULES[SUSPENDED], f"开单医生D330802000002：{RULES[SUSPENDED][1]}（衢州 第二十一条、第二十二条），"
                                 "2027-01-09起可恢复结算")
_HEAD = {"inf_refmsgid": "330802202612010941300001000017", "refmsg_time": "20261201094130112",
         "respond_time": "20261201094130114"}


def answers(infno: str) -> dict[str, Any]:
    if infno == "3103":
        return {"recorded": {"value": {"infcode": 0, **_HEAD, "err_msg": "", "output": {}}}}
    upload = infno in ("2204", "2301")
    sn = "20261201000002" if upload else "2"
    reject = {"result": [_result(*_SUSPENDED, sn, "衢州 第二十一条、第二十二条", SEVERITY[SUSPENDED])]}
    refused = {"result": [_result(*REFUSED,
                                  "明细20261201000004无法审核：input.feedetail[0].bilg_dr_codg is required",
                                  "20261201000004", "input.feedetail[0].bilg_dr_codg", DOUBTFUL)]}
    if not upload:
        return {"pass": {"value": {"infcode": 0, **_HEAD, "err_msg": "", "output": {"result": []}}},
                "reject": {"value": {"infcode": 0, **_HEAD, "err_msg": "", "output": reject}}}
    row = {"feedetl_sn": "20261201000001", "det_item_fee_sumamt": 25.6, "cnt": 2.0, "pric": 12.8,
           "pric_uplmt_amt": 12.8, "selfpay_prop": 0.0, "fulamt_ownpay_amt": 0.0, "overlmt_amt": 0.0,
           "preselfpay_amt": 0.0, "inscp_scp_amt": 25.6, "chrgitm_lv": "", "med_chrgitm_type": "",
           "bas_medn_flag": "0", "hi_nego_drug_flag": "0", "chld_medc_flag": "0", "list_sp_item_flag": "0",
           "lmt_used_flag": "0", "drt_reim_flag": "0", "memo": ""}
    return {
        "pass": {"summary": "no upstream: fee-split rows", "value": {"infcode": 0, **_HEAD, "err_msg": "",
                                                                      "output": {"result": [row]}}},
        "reject": {"value": {"infcode": -1, **_HEAD, "err_msg": "明细审核未通过 1 条: 20261201000002 suspended",
                             "output": reject}},
        "refusal": {"value": {"infcode": -1, **_HEAD, "output": refused,
                              "err_msg": "明细审核未通过 1 条: 20261201000004 unreadable bilg_dr_codg"}},
        "unreadable": {"value": {"infcode": -1, **_HEAD, "err_msg": "fixmedins_code: must be 1–30 letters or digits",
                                 "output": {}}},
    }
