"""How the ``/nhsa/`` routes are documented in OpenAPI: request and answer schemas, examples.

The models here describe the wire format for clients and fuzzers; they are never used to read a
request (``gateway.formats.nhsa.wire`` does, leniently: numbers or strings, ``""`` for absent, one object
for a list).  ``Scalar`` fields take a string or a number, as senders write them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = ["ANSWER", "components", "operation"]

_NAMES = {
    "2204": "门诊费用明细信息上传", "2301": "住院费用明细信息上传", "3101": "明细审核事前分析服务",
    "3102": "明细审核事中分析服务", "3103": "事前事中服务反馈服务",
}
Scalar = Annotated[str | float | None, Field(description="a string or a number; \"\" or null for absent")]
Objects = Annotated[dict[str, Any] | list[dict[str, Any]] | str | None,
                    Field(description="an object, a list of objects, or JSON text of either")]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow")  # senders add fields; drgate ignores them


class FeeDetail(_Doc):
    feedetl_sn: Scalar = Field(description="费用明细流水号, unique within the visit")
    mdtrt_id: Scalar = Field(description="就诊ID")
    psn_no: Scalar = None
    bilg_dr_codg: Scalar = Field(description="开单医生编码 (医保医师代码, or a mapped local code): decides the line")
    fee_ocur_time: Scalar = Field(description="费用发生时间, yyyy-MM-dd HH:mm:ss (or T)")
    med_type: Scalar = None
    det_item_fee_sumamt: Scalar = None
    cnt: Scalar = None
    pric: Scalar = None
    exp_content: Objects = None


class FeeInput(_Doc):
    feedetail: list[FeeDetail] | FeeDetail = Field(description="1–1000 lines")


class FsiOrder(_Doc):
    rx_id: Scalar = Field(description="处方(医嘱)标识")
    drord_dr_codg: Scalar = Field(description="开处方(医嘱)医生标识: decides the order")
    drord_begn_date: Scalar = Field(description="医嘱开始日期: the day decided on")
    sumamt: Scalar = None
    cnt: Scalar = None
    pric: Scalar = None
    curr_drord_flag: Scalar = Field(default=None, description="0: a past order, not decided")


class FsiEncounter(_Doc):
    mdtrt_id: Scalar = None
    medins_id: Scalar = Field(default=None, description="定点医疗机构 (else the envelope's fixmedins_code)")
    med_type: Scalar = None
    dr_codg: Scalar = Field(default=None, description="the visit's doctor: does not decide an order")
    fsi_order_dtos: list[FsiOrder] | FsiOrder | None = None


class FsiPatient(_Doc):
    patn_id: Scalar = None
    fsi_encounter_dtos: list[FsiEncounter] | FsiEncounter | None = None


class AnalysisData(_Doc):
    trig_scen: Scalar = Field(default=None, description="1–5 事前, 6–10 事中")
    rule_ids: list[str] | str | None = Field(default=None, description="a list or comma-separated; empty: all rules")
    patient_dtos: list[FsiPatient] | FsiPatient | None = None


class AnalysisInput(_Doc):
    data: AnalysisData


class Warn(_Doc):
    warn_rslt_id: Scalar = Field(description="the result's jr_id")
    dspo_way: Scalar = Field(description="1 继续执行, 2 返回修改")
    dspo_way_rea: Scalar = Field(default=None, description="required with dspo_way 1")


class FeedbackData(_Doc):
    warn_type: Scalar = Field(description="1 事前, 2 事中")
    warns: list[Warn] | Warn


class FeedbackInput(_Doc):
    data: FeedbackData


def _envelope(name: str, payload: type[BaseModel]) -> type[BaseModel]:
    model: type[BaseModel] = create_model(
        name, __base__=_Doc,
        infno=(Scalar, Field(description="交易编号: the route's")),
        msgid=(Scalar, Field(description="报文ID")),
        mdtrtarea_admvs=(Scalar, Field(default=None, description="就医地医保区划, 6 digits")),
        fixmedins_code=(Scalar, Field(default=None, description="定点医药机构编号")),
        input=(payload, ...),
    )
    return model


class JudgeDetail(BaseModel):
    jrd_id: str
    patn_id: str
    mdtrt_id: str
    rx_id: str = Field(description="feedetl_sn, or the order's rx_id")
    vola_item_type: Literal["1", "2"] = Field(description="1 违规项, 2 涉及项")
    vola_amt: float


class JudgeResult(BaseModel):
    jr_id: str = Field(description="{task_id}-{n}: what 3103's warn_rslt_id names")
    rule_id: str
    rule_name: str
    vola_cont: str = Field(max_length=500, description="the doctor, the reason, the article")
    patn_id: str
    mdtrt_id: str
    judge_result_detail_dtos: list[JudgeDetail]
    vola_amt: float
    vola_amt_stas: str
    sev_deg: Literal["1", "2"] = Field(description="1 明确违规, 2 高度可疑")
    vola_evid: str
    vola_bhvr_type: str
    task_id: str = Field(description="the decision id (decision log)")


class FeeRow(BaseModel):
    feedetl_sn: str
    det_item_fee_sumamt: float
    cnt: float
    pric: float
    pric_uplmt_amt: float
    selfpay_prop: float
    fulamt_ownpay_amt: float
    overlmt_amt: float
    preselfpay_amt: float
    inscp_scp_amt: float
    chrgitm_lv: str
    med_chrgitm_type: str
    bas_medn_flag: str
    hi_nego_drug_flag: str
    chld_medc_flag: str
    list_sp_item_flag: str
    lmt_used_flag: str
    drt_reim_flag: str
    memo: str


class NhsaOutput(BaseModel):
    result: list[JudgeResult] | list[FeeRow] | None = Field(
        default=None, description="3101 results (rejected/refused lines), or 2204 fee-split rows; absent on failure")


class Answer(BaseModel):
    """The platform's response envelope: these fields only."""

    infcode: Literal[0, -1, "0", "-1"] = Field(description="0 processed, -1 not (a string by setting)")
    inf_refmsgid: str = Field(pattern=r"^\d{30}$")
    refmsg_time: str = Field(pattern=r"^\d{17}$")
    respond_time: str = Field(pattern=r"^\d{17}$")
    err_msg: str = Field(max_length=200)
    output: NhsaOutput


ANSWER = "NhsaAnswer"
_INPUTS: dict[str, type[BaseModel]] = {"2204": FeeInput, "2301": FeeInput, "3101": AnalysisInput,
                                       "3102": AnalysisInput, "3103": FeedbackInput}
_REQUESTS = {infno: _envelope(f"Nhsa{infno}Request", model) for infno, model in _INPUTS.items()}


def components() -> dict[str, Any]:
    """Every schema the ``/nhsa/`` operations refer to, for ``components.schemas``."""
    found: dict[str, Any] = {}
    models: list[tuple[str, type[BaseModel]]] = [(ANSWER, Answer),
                                                 *((f"Nhsa{i}Request", m) for i, m in _REQUESTS.items())]
    for name, model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[name] = schema
    return found


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, examples: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref(ANSWER)}
    if examples:
        content["examples"] = examples
    return {"description": description, "content": {"application/json": content}}


def operation(infno: str) -> dict[str, Any]:
    """Keyword arguments of ``APIRouter.add_api_route`` for ``/nhsa/{infno}``."""
    from gateway.formats.nhsa.examples import answers, requests

    return {
        "summary": f"{infno} {_NAMES[infno]}",
        "description": "The platform's envelope in, its envelope out: `infcode` 0, or -1 with `err_msg` "
                       "naming what failed. HTTP 200 whatever the outcome, except 401, 413, 503 and 500, whose "
                       "bodies are the same envelope. See docs/nhsa.md.",
        "openapi_extra": {"requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref(f"Nhsa{infno}Request"), "examples": requests(infno)}}}},
        "responses": {
            200: _answer("Processed (`infcode` 0) or not (`infcode` -1, `err_msg` says why)", answers(infno)),
            413: _answer("Body over 4 MiB (`infcode` -1)"),
            503: _answer("This worker holds too many unfinished bodies; retry (`infcode` -1)"),
            500: _answer("Internal error (`infcode` -1); see the gateway log"),
        },
    }
