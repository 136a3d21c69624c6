"""Payloads of the national platform's transactions as HIS integrations build them, and a gateway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.cli.demo import HOSPITAL
from gateway.settings import Settings

TODAY = date.today()
#: The fixtures of real senders' payloads, one file per source.
FIXTURES = Path(__file__).parent / "fixtures" / "nhsa"
INSTITUTION = "H33080200001"

OK, SUSPENDED, TERMINATED, DISQUALIFIED, NO_AGREEMENT, UNKNOWN = (
    "D330802000001", "D330802000002", "D330802000003", "D330802000004", "D330802000005", "D330802000099")
VISIT = "330800G0000123456789"

ENVELOPE_FIELDS = {"infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"}
RESULT_FIELDS = {"jr_id", "rule_id", "rule_name", "vola_cont", "patn_id", "mdtrt_id", "judge_result_detail_dtos",
                 "vola_amt", "vola_amt_stas", "sev_deg", "vola_evid", "vola_bhvr_type", "task_id"}


def gateway(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def fee(sn: int, doctor: str, **extra: Any) -> dict[str, Any]:
    """One 2204 feedetail as HIS integrations send it: numbers as strings, blanks as ""."""
    line = {
        "feedetl_sn": f"{TODAY:%Y%m%d}00{sn:04d}", "init_feedetl_sn": "", "mdtrt_id": VISIT,
        "psn_no": "33000000000000000012", "chrg_bchno": "CB20240001", "dise_codg": "", "rxno": "RX001",
        "rx_circ_flag": "0", "fee_ocur_time": f"{TODAY} 09:41:27", "med_list_codg": "XJ01CAA040A001010104022",
        "medins_list_codg": "1001", "det_item_fee_sumamt": "25.60", "cnt": "2.0000", "pric": "12.8000",
        "sin_dos_dscr": "", "used_frqu_dscr": "", "prd_days": "", "medc_way_dscr": "",
        "bilg_dept_codg": "A03", "bilg_dept_name": "内科", "bilg_dr_codg": doctor, "bilg_dr_name": "",
        "acord_dept_codg": "", "acord_dept_name": "", "orders_dr_code": "", "orders_dr_name": "",
        "hosp_appr_flag": "1", "tcmdrug_used_way": "", "etip_flag": "", "etip_hosp_code": "",
        "dscg_tkdrug_flag": "", "matn_fee_flag": "", "memo": "",
    }
    line.update(extra)
    return line


def inpatient(sn: int, doctor: str, med_type: str = "21", **extra: Any) -> dict[str, Any]:
    line = fee(sn, doctor, med_type=med_type, drord_no="YZ001", **extra)
    del line["rxno"], line["rx_circ_flag"]
    return line


def envelope(infno: str, payload: Any, institution: str = HOSPITAL) -> dict[str, Any]:
    """The platform's request envelope around ``input`` (a list: 2204/2301 ``feedetail``)."""
    return {
        "infno": infno, "msgid": f"{institution}{TODAY:%Y%m%d}0828271037", "mdtrtarea_admvs": "330802",
        "insuplc_admdvs": "330802", "recer_sys_code": "HIS", "dev_no": "", "dev_safe_info": "", "cainfo": "",
        "signtype": "SM2", "infver": "V1.0", "opter_type": "1", "opter": "0001", "opter_name": "收费员",
        "inf_time": f"{TODAY} 09:41:30", "fixmedins_code": institution, "fixmedins_name": "衢州市人民医院",
        "sign_no": "", "input": {"feedetail": payload} if isinstance(payload, list) else payload,
    }


def order(rx: str, doctor: str, **extra: Any) -> dict[str, Any]:
    """One 3101 fsi_order_dtos entry, every field a string (openhis ``Input_3101.cs``)."""
    entry = {
        "rx_id": rx, "rxno": "RX" + rx, "grpno": "1", "long_drord_flag": "0", "hilist_type": "101",
        "chrg_type": "09", "drord_bhvr": "0", "hilist_code": "XJ01CAA040A001010104022", "hilist_name": "阿莫西林胶囊",
        "hilist_dosform": "胶囊剂", "hilist_lv": "1", "hilist_pric": "12.80", "lv1_hosp_item_pric": "",
        "lv2_hosp_item_pric": "", "lv3_hosp_item_pric": "", "hilist_memo": "", "hosplist_code": "1001",
        "hosplist_name": "阿莫西林胶囊", "hosplist_dosform": "", "cnt": "2", "pric": "12.80", "sumamt": "25.60",
        "ownpay_amt": "0", "selfpay_amt": "0", "spec": "0.25g×24粒/盒", "spec_unt": "盒",
        "drord_begn_date": f"{TODAY} 09:30:00", "drord_stop_date": "", "drord_dept_codg": "A03",
        "drord_dept_name": "内科", "drord_dr_codg": doctor, "drord_dr_name": "", "drord_dr_profttl": "",
        "curr_drord_flag": "1",
    }
    entry.update(extra)
    return entry


def encounter(orders: list[dict[str, Any]], visit: str = VISIT, **extra: Any) -> dict[str, Any]:
    entry = {
        "mdtrt_id": visit, "medins_id": HOSPITAL, "medins_name": "衢州市人民医院", "medins_admdvs": "330802",
        "medins_type": "1", "medins_lv": "3", "wardarea_codg": "", "wardno": "", "bedno": "",
        "adm_date": f"{TODAY} 09:00:00", "dscg_date": "", "dscg_main_dise_codg": "J06.900",
        "dscg_main_dise_name": "急性上呼吸道感染", "fsi_diagnose_dtos": [], "dr_codg": OK, "adm_dept_codg": "A03",
        "adm_dept_name": "内科", "dscg_dept_codg": "", "dscg_dept_name": "", "med_mdtrt_type": "1",
        "med_type": "11", "fsi_order_dtos": orders, "matn_stas": "0", "medfee_sumamt": "25.60", "ownpay_amt": "0",
        "selfpay_amt": "0", "acct_payamt": "0", "ma_amt": "0", "hifp_payamt": "0", "setl_totlnum": "0",
        "insutype": "310", "reim_flag": "0", "out_setl_flag": "0", "fsi_operation_dtos": "",
    }
    entry.update(extra)
    return entry


def analysis(encounters: list[dict[str, Any]], trig_scen: str = "2", rule_ids: Any = "",
             patient: str = "33000000000000000012") -> dict[str, Any]:
    return {"data": {"patient_dtos": [{
        "patn_id": patient, "patn_name": "", "gend": "1", "brdy": "1980-01-01", "poolarea": "330802",
        "curr_mdtrt_id": encounters[0]["mdtrt_id"] if encounters else "", "fsi_encounter_dtos": encounters,
    }], "rule_ids": rule_ids, "trig_scen": trig_scen, "syscode": "HIS"}}


def post(client: TestClient, infno: str, lines: list[dict[str, Any]], institution: str = HOSPITAL) -> Any:
    reply = client.post(f"/nhsa/{infno}", json=envelope(infno, lines, institution))
    assert reply.status_code == 200
    return reply.json()


def rules_of(body: Any) -> list[str]:
    return [r["rule_id"] for r in body["output"]["result"]]
