"""The national platform's language (国家医保信息平台): 2204/2301 envelopes in, 3101-shaped results out.

An HIS integrator already sends fee details to the platform as ``2204`` 门诊费用明细信息上传 or
``2301`` 住院费用明细信息上传 and already reads the platform's rule-check results (``3101``
明细审核).  This module translates such an envelope into the shared ``CheckRequest`` (one
decision, ``gateway.checker.decide_claim``) and the claim's rejected lines back into 3101 results:

    feedetail[].feedetl_sn      → line_id, and ``rx_id`` of the result's detail
    feedetail[].bilg_dr_codg    → physician_code (开单医生; ``orders_dr_code`` 受单医生 does not decide)
    feedetail[].fee_ocur_time   → the line's date of service
    feedetail[].med_type        → emergency/rescue when in the configured codes (2301 carries it)
    feedetail[].exp_content.er_flag == "1" → emergency (some provinces' 2204 extension)
    fixmedins_code              → institution_code;  msgid → claim_id

Real integrations send numbers as strings (``"cnt": "2.0000"``), codes as numbers, and optional
fields as ``""``: the models take all three.  Pure: no I/O here (``gateway.nhsa_routes`` serves it).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from gateway.checker import ClaimResult
from gateway.decision import REJECT
from gateway.schemas import CheckLine, CheckRequest, InstitutionCode, PhysicianCode, ServiceDate
from gateway.status import CHINA

__all__ = ["RULES", "SEVERITY", "TRANSACTIONS", "Envelope2204", "Envelope2301", "error_message", "failure",
           "success", "to_check_request"]

#: Transactions served: infno → what it is.
TRANSACTIONS = {"2204": "门诊费用明细信息上传", "2301": "住院费用明细信息上传"}

#: 3101 ``rule_id`` and ``rule_name`` of each rejecting reason (SPEC.md decision table); the
#: article of the configured profile goes into ``vola_cont`` and ``vola_evid``.
RULES: dict[str, tuple[str, str]] = {
    "institution_suspended": ("DRGATE-01", "定点医疗机构医保服务协议暂停或解除期间"),
    "unknown_physician": ("DRGATE-02", "开单医生不在医保医师库"),
    "disqualified": ("DRGATE-03", "开单医生医保医师资格已取消"),
    "terminated": ("DRGATE-04", "开单医生医保医师服务协议已解除"),
    "suspended": ("DRGATE-05", "开单医生医保医师服务协议暂停期间"),
    "no_agreement": ("DRGATE-06", "开单医生未与本定点医疗机构签订医保医师服务协议"),
    "unverified": ("DRGATE-09", "开单医生医保医师状态暂无法核验"),
}

#: 3101 ``sev_deg`` 严重程度: 1 明确违规 for a rejection read from the registry; 2 高度可疑 for
#: ``unverified`` under fail_closed (the physician may be fine: the snapshot could not be read).
SEVERITY: dict[str, str] = {reason: "1" for reason in RULES} | {"unverified": "2"}

_VIOLATION_ITEM = "1"  # 3101 vola_item_type: 1 违规项 (2 涉及项)


# -- request: lenient where real payloads are, strict where the decision depends ----------------------


def _blank(value: object) -> object:
    """``""`` (or only spaces) is how integrations send an absent optional field."""
    return None if isinstance(value, str) and not value.strip() else value


def _text(value: object) -> object:
    """Codes sometimes arrive as numbers (``"med_type": 13``); blanks are absent."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(value, "g")
    return _blank(value)


def _object(value: object) -> object:
    """``exp_content`` is an object, a JSON string of one, or ``""``."""
    value = _blank(value)
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("exp_content is neither an object nor JSON text of one") from None
    return value


Text = Annotated[str, BeforeValidator(_text)]
OptText = Annotated[Annotated[str, Field(max_length=30)] | None, BeforeValidator(_text)]  # 30: the platform's widest
Amount = Annotated[Decimal | None, BeforeValidator(_blank)]  # Decimal refuses NaN and Infinity
Region = Annotated[str, BeforeValidator(_text), Field(pattern=r"^\d{6}$", description="行政区划代码 (GB/T 2260)")]
OptRegion = Annotated[Annotated[str, Field(pattern=r"^\d{6}$")] | None, BeforeValidator(_text)]
Code = Annotated[PhysicianCode, BeforeValidator(_text)]
MedType = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=6)]
OptMedType = Annotated[Annotated[str, Field(max_length=6)] | None, BeforeValidator(_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class ExpContent(_In):
    er_flag: OptText = Field(default=None, description="急诊标志: 1 emergency (exempt), 0 not")


class FeeDetail(_In):
    feedetl_sn: Text = Field(min_length=1, max_length=30, description="费用明细流水号, unique within the visit")
    mdtrt_id: Text = Field(min_length=1, max_length=30, description="就诊ID")
    psn_no: OptText = Field(default=None, description="人员编号 (→ patn_id)")
    bilg_dr_codg: Code = Field(description="开单医生编码 (医保医师代码): decides the line")
    fee_ocur_time: Annotated[ServiceDate, BeforeValidator(_blank)] = Field(description="费用发生时间")
    med_type: OptMedType = Field(default=None, description="医疗类别 (2301 carries it on every line)")
    det_item_fee_sumamt: Amount = Field(default=None, description="明细项目费用总额 (→ vola_amt)")
    cnt: Amount = None
    pric: Amount = None
    exp_content: Annotated[ExpContent | None, BeforeValidator(_object)] = None

    @property
    def amount(self) -> Decimal:
        if self.det_item_fee_sumamt is not None:
            return self.det_item_fee_sumamt
        if self.cnt is not None and self.pric is not None:
            return self.cnt * self.pric
        return Decimal(0)

    @property
    def emergency(self) -> bool | None:
        if self.exp_content is not None and self.exp_content.er_flag == "1":
            return True
        return None  # the claim's (and med_type's) say decides


class InpatientFeeDetail(FeeDetail):
    med_type: MedType = Field(description="医疗类别: required on every 2301 line")


class Input2204(_In):
    feedetail: list[FeeDetail] = Field(min_length=1, max_length=1000)


class Input2301(_In):
    feedetail: list[InpatientFeeDetail] = Field(min_length=1, max_length=1000)


class _Envelope(_In):
    infno: Text = Field(pattern=r"^\d{4}$", description="交易编号")
    msgid: Text = Field(min_length=1, max_length=64, description="报文ID: fixmedins_code + time + serial")
    fixmedins_code: Annotated[InstitutionCode, BeforeValidator(_text)] = Field(description="定点医药机构编号")
    mdtrtarea_admvs: Region = Field(description="就医地医保区划")
    insuplc_admdvs: OptRegion = Field(default=None, description="参保地医保区划")
    inf_time: Text = Field(pattern=r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", description="交易时间")


class Envelope2204(_Envelope):
    input: Input2204


class Envelope2301(_Envelope):
    input: Input2301


Envelope = Envelope2204 | Envelope2301


def to_check_request(envelope: Envelope) -> CheckRequest:
    """The shared claim the envelope stands for; its fields were validated by the envelope's model."""
    details = envelope.input.feedetail
    lines = [
        CheckLine.model_construct(line_id=d.feedetl_sn, physician_code=d.bilg_dr_codg, service_date=d.fee_ocur_time,
                                  emergency=d.emergency, med_type=d.med_type)
        for d in details
    ]
    return CheckRequest.model_construct(claim_id=envelope.msgid, institution_code=envelope.fixmedins_code,
                                        service_date=details[0].fee_ocur_time, med_type=None, emergency=False,
                                        rescue=False, lines=lines)


def error_message(exc: ValidationError, limit: int = 5) -> str:
    """``err_msg`` naming each bad field by its path in the envelope, without echoing the input."""
    parts = []
    for e in exc.errors(include_url=False, include_input=False)[:limit]:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        parts.append(f"{path}: {e['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# -- response ------------------------------------------------------------------------------------------

_serial = itertools.count(1)


def _stamp(moment: datetime) -> str:
    """``yyyyMMddHHmmssSSS`` in Asia/Shanghai, the platform's ``refmsg_time``/``respond_time``."""
    return moment.astimezone(CHINA).strftime("%Y%m%d%H%M%S%f")[:17]


def _refmsgid(region: str, moment: datetime) -> str:
    # region(6) + time(14) + serial(10); the serial mixes the pid so workers do not collide.
    serial = (os.getpid() % 1000) * 10_000_000 + next(_serial) % 10_000_000
    return f"{region}{moment.astimezone(CHINA):%Y%m%d%H%M%S}{serial:010d}"


def _envelope(infcode: int, region: str, received: datetime, err_msg: str, output: Any) -> dict[str, Any]:
    now = datetime.now(CHINA)
    return {
        "infcode": infcode,
        "inf_refmsgid": _refmsgid(region, now),
        "refmsg_time": _stamp(received),
        "respond_time": _stamp(now),
        "err_msg": err_msg,
        "warn_msg": "",
        "output": output,
    }


def failure(err_msg: str, received: datetime, region: str = "000000") -> dict[str, Any]:
    """``infcode -1``: the envelope could not be checked; ``err_msg`` says what to fix."""
    return _envelope(-1, region, received, err_msg, {})


def success(envelope: Envelope, result: ClaimResult, received: datetime) -> dict[str, Any]:
    """``infcode 0`` with ``output.result`` in the 3101 shape, one entry per rejected physician and visit."""
    details = {d.feedetl_sn: d for d in envelope.input.feedetail}
    return _envelope(0, envelope.mdtrtarea_admvs, received, "", {
        "result": _judgements(result, details),
        "drgate": {  # what 3101 has no field for: the decision id for the help desk, every line's reason
            "decision": result.decision, "decision_id": result.decision_id, "enforced": result.enforced,
            "snapshot": result.snapshot,
            "lines": [{"feedetl_sn": ln.line_id, "bilg_dr_codg": ln.physician_code, "decision": ln.decision,
                       "reason": ln.reason, "basis": ln.basis, "until": ln.until, "flags": ln.flags,
                       "would_reject": ln.would_reject} for ln in result.lines],
        },
    })


def _judgements(result: ClaimResult, details: dict[str, FeeDetail]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for line in result.lines:
        if line.decision == REJECT:
            key = (details[line.line_id].mdtrt_id, line.physician_code, line.reason)
            groups.setdefault(key, []).append(line)
    out = []
    for n, ((mdtrt_id, code, reason), lines) in enumerate(groups.items(), 1):
        jr_id = f"{result.decision_id}-{n}"
        rule_id, rule_name = RULES[reason]
        first = lines[0]
        patient = details[first.line_id].psn_no or ""
        dtos = [_detail(jr_id, i, details[ln.line_id], patient) for i, ln in enumerate(lines, 1)]
        out.append({
            "jr_id": jr_id,
            "rule_id": rule_id,
            "rule_name": rule_name,
            "vola_cont": _content(code, rule_name, first.basis, first.until),
            "patn_id": patient,
            "mdtrt_id": mdtrt_id,
            "judge_result_detail_dtos": dtos,
            "vola_amt": _sum(d["vola_amt"] for d in dtos),
            "vola_amt_stas": "",
            "sev_deg": SEVERITY[reason],
            "vola_evid": first.basis or "",
            "vola_bhvr_type": "",
            "task_id": "",
        })
    return out


def _detail(jr_id: str, n: int, detail: FeeDetail, patient: str) -> dict[str, Any]:
    return {"jrd_id": f"{jr_id}-{n}", "patn_id": patient, "mdtrt_id": detail.mdtrt_id, "rx_id": detail.feedetl_sn,
            "vola_item_type": _VIOLATION_ITEM, "vola_amt": float(detail.amount.quantize(Decimal("0.01")))}


def _sum(amounts: Iterable[float]) -> float:
    return float(sum((Decimal(str(a)) for a in amounts), Decimal(0)))


def _content(code: str, rule_name: str, basis: str | None, until: str | None) -> str:
    text = f"开单医生{code}：{rule_name}"
    if basis:
        text += f"（{basis}）"
    if until:
        text += f"，{until}起可恢复结算"
    return text
