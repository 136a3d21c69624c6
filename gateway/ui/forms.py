"""The officers' forms: one per record kind they enter by hand, each a record of the import contract.

A form's fields are the kind's fields (``docs/import-format.md``); an empty field is left out (an
optional field's default), a filled one goes in as typed.  The record is then written the way
``drgate store import`` writes a line: the same validation and the same messages, each naming its
field, so the form shows them beside the fields they concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.profiles import Profile

__all__ = ["FORMS", "Choice", "Field", "RecordForm", "form_record"]


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the record's field
    label: str  # 中文 first
    kind: str = "text"  # text | date | select | item (the profile's catalog)
    required: bool = True
    choices: tuple[Choice, ...] = ()
    hint: str = ""


@dataclass(frozen=True, slots=True)
class RecordForm:
    kind: str  # the import contract's ``kind``
    title: str
    article: str
    fields: tuple[Field, ...]

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


_BASIS = tuple(Choice(v, f"{label} ({v})") for v, label in (
    ("administrative_penalty", "行政处罚决定"), ("audit", "稽核结论"), ("agreement", "协议处理"),
    ("interview", "约谈记录"), ("judicial", "司法文书")))

FORMS: dict[str, RecordForm] = {f.kind: f for f in (
    RecordForm("violation", "记录违规 (扣分)", "衢州 第十七条至第二十条 / 苏州 第八条至第十二条", (
        Field("id", "违规编号", hint="如 V-2026-001; 更正时填原编号并写变更理由"),
        Field("physician_code", "医保医师代码"),
        Field("institution_code", "定点医疗机构代码"),
        Field("item", "扣分项目", "item"),
        Field("case_id", "案件编号"),
        Field("act_id", "行为编号", required=False, hint="一个行为符合多项时填写 (苏州 第十四条)"),
        Field("occurred_on", "发生日期", "date"),
        Field("scored_on", "记分日期", "date"),
        Field("basis_type", "依据类型", "select", choices=_BASIS),
        Field("basis_no", "依据文号", hint="如 衢医保稽〔2026〕12号 (苏州 第十三条)"),
    )),
    RecordForm("restoration_request", "记录恢复申请", "衢州 第二十二条", (
        Field("physician_code", "医保医师代码"),
        Field("filed_on", "申请日期", "date", hint="暂停期满前 7 个工作日内提出"),
    )),
    RecordForm("revocation", "记录撤销", "复核 / 撤销", (
        Field("target_id", "被撤销的违规或处理编号"),
        Field("revoked_on", "撤销日期", "date"),
        Field("reason", "撤销理由"),
    )),
    RecordForm("appeal", "记录异议", "衢州 第二十七条", (
        Field("id", "异议编号", hint="如 A-2026-001"),
        Field("target_id", "异议针对的违规或处理编号"),
        Field("physician_code", "医保医师代码", required=False, hint="可不填: 取被异议记录的医师"),
        Field("filed_on", "提出日期", "date", hint="告知送达后 10 个工作日内"),
        Field("decided_on", "决定日期", "date", required=False, hint="未决定时不填"),
        Field("outcome", "决定结果", "select", required=False,
              choices=(Choice("upheld", "异议成立 (撤销)"), Choice("rejected", "异议不成立"))),
    )),
    RecordForm("notice", "记录告知送达", "衢州 第二十一条 / 苏州 第十五条、第十六条", (
        Field("id", "告知编号", hint="待办清单或医师页面所列的编号, 如 violation:V-1@D330802000001"),
        Field("physician_code", "医保医师代码"),
        Field("served_on", "送达日期", "date"),
        Field("channel", "送达方式", "select",
              choices=(Choice("written", "书面 (written)"), Choice("sms", "短信 (sms)"),
                       Choice("system", "系统 (system)"))),
    )),
)}


def item_choices(profile: Profile) -> tuple[Choice, ...]:
    """The profile's catalog as choices: ``19.5 (2 分) 第十九条 …``."""
    return tuple(Choice(i.id, f"{i.id} ({i.points} 分) {i.article} {i.text[:40]}") for i in profile.items.values())


def form_record(form: RecordForm, data: Mapping[str, Any]) -> dict[str, Any]:
    """The record a filled form stands for: its kind and each field filled in, stripped."""
    record: dict[str, Any] = {"kind": form.kind}
    for f in form.fields:
        value = data.get(f.name)
        text = value.strip() if isinstance(value, str) else ""
        if text:  # an empty field is left out: the validation names a required one as missing
            record[f.name] = text
    return record
