"""Rejected and refused lines as the platform's rule-check results (3101/3102 ``output.result``).

One result per (visit ``mdtrt_id``, doctor code as sent, reason); its ``judge_result_detail_dtos``
list the lines (``rx_id`` = ``feedetl_sn`` or the order's ``rx_id``).  Passing and exempted lines,
and refunds, are never results.  The dictionary values, and where they come from:

    rule_id / rule_name   drgate's own rules, one per rejecting reason (``gateway.check.reasons``:
                          its ``nhsa.rule_id`` and ``zh``); the platform's rule ids are its own
    sev_deg               1 明确违规: read from the registry; 2 高度可疑: not established (the
                          snapshot could not be read under fail_closed, or the line could not be
                          read): the reason's ``nhsa.sev_deg``.  Labels as HIS code shows them
                          (binzhe12123/Medical, hsa-his).
    vola_item_type        1 违规项 (2 涉及项), openhis ``Output_3101.cs``
    vola_amt_stas         违规金额计算状态: a provincial dictionary, ``DRGATE_NHSA_VOLA_AMT_STAS``
    vola_bhvr_type        违规行为分类: a provincial dictionary, ``DRGATE_NHSA_VOLA_BHVR_TYPE``
    task_id               the decision id (``/v1``'s ``decision_id``; the decision log's ``id``)
    jr_id                 ``{decision_id}-{n}``: what 3103's ``warn_rslt_id`` names back
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from gateway.check.core import DecidedLine, decision_id
from gateway.check.reasons import DOUBTFUL, INSTITUTION_SUSPENDED, REASONS, REJECT, SUSPENDED, UNVERIFIED
from gateway.formats.nhsa.lines import Decided, Refusal
from gateway.formats.nhsa.wire import cents

__all__ = ["REFUSED", "RULES", "SEVERITY", "Dictionary", "judgements"]

#: 3101 ``rule_id`` and ``rule_name`` of each reason that can reject (``gateway.check.reasons``);
#: the article of the configured profile goes into ``vola_cont`` and ``vola_evid``.
RULES: dict[str, tuple[str, str]] = {r.code: (r.nhsa.rule_id, r.zh) for r in REASONS if r.nhsa is not None}
#: A line that cannot be decided (no doctor code, no date): refused by itself.
REFUSED = ("DRGATE-00", "明细信息不全，无法审核开单医生")

#: 3101 ``sev_deg`` 严重程度 of each reason that can reject: 1 明确违规, 2 高度可疑.
SEVERITY: dict[str, str] = {r.code: r.nhsa.sev_deg for r in REASONS if r.nhsa is not None}
#: Reasons whose ``until`` is the day the same agreement holds again (a suspension's end).
_RESUMES = frozenset({INSTITUTION_SUSPENDED, SUSPENDED})
_VIOLATION_ITEM = "1"  # vola_item_type 1 违规项
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Dictionary:
    """The provincial dictionary codes of a result (settings)."""

    vola_amt_stas: str = "1"
    vola_bhvr_type: str = "1"


def judgements(decided: Iterable[Decided], refusals: Iterable[Refusal], dictionary: Dictionary,
               rule_ids: Collection[str] = ()) -> list[dict[str, Any]]:
    """The results of the rejected lines and the refused ones; only ``rule_ids`` when given."""
    groups: dict[tuple[str, str, str, str], list[Decided]] = {}
    for d in decided:
        if d.result.decision == REJECT:
            groups.setdefault((d.decision_id, d.line.visit, d.line.code, d.result.reason), []).append(d)
    out: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for (task, visit, sent, reason), lines in groups.items():
        rule_id, rule_name = RULES.get(reason, RULES[UNVERIFIED])
        numbers[task] = n = numbers.get(task, 0) + 1
        if rule_ids and rule_id not in rule_ids:
            continue
        first = lines[0]
        line, decided_line = first.line, first.result
        details = [(line.sn, line.amount)] if len(lines) == 1 else [(ln.line.sn, ln.line.amount) for ln in lines]
        content = _content(sent, first.resolved, rule_name, decided_line)
        out.append(_result(f"{task}-{n}", rule_id, rule_name, content, line.patient, visit, details,
                           SEVERITY.get(reason, DOUBTFUL), decided_line.basis or "", task, dictionary))
    refusals = list(refusals)
    if refusals and (not rule_ids or REFUSED[0] in rule_ids):
        task = decision_id()
        for n, r in enumerate(refusals, 1):
            content = f"明细{r.sn or '(无流水号)'}无法审核：{r.field} {r.why}"
            out.append(_result(f"{task}-{n}", *REFUSED, content, r.patient, r.visit, [(r.sn, r.amount)],
                               DOUBTFUL, r.field, task, dictionary))
    return out


def _result(jr_id: str, rule_id: str, rule_name: str, content: str, patient: str, visit: str,
            details: list[tuple[str, Decimal]], severity: str, evidence: str, task: str,
            dictionary: Dictionary) -> dict[str, Any]:
    if len(details) == 1:  # most results: one line (no comprehension, no sum)
        sn, amount = details[0]
        dtos = [{"jrd_id": jr_id + "-1", "patn_id": patient, "mdtrt_id": visit, "rx_id": sn,
                 "vola_item_type": _VIOLATION_ITEM, "vola_amt": _fen(amount)}]
        total = _ZERO + amount
    else:
        dtos = [{"jrd_id": f"{jr_id}-{i}", "patn_id": patient, "mdtrt_id": visit, "rx_id": sn,
                 "vola_item_type": _VIOLATION_ITEM, "vola_amt": _fen(amount)}
                for i, (sn, amount) in enumerate(details, 1)]
        total = sum((amount for _, amount in details), _ZERO)
    return {
        "jr_id": jr_id, "rule_id": rule_id, "rule_name": rule_name, "vola_cont": content[:500],
        "patn_id": patient, "mdtrt_id": visit, "judge_result_detail_dtos": dtos,
        "vola_amt": _fen(total),
        "vola_amt_stas": dictionary.vola_amt_stas, "sev_deg": severity, "vola_evid": evidence[:500],
        "vola_bhvr_type": dictionary.vola_bhvr_type, "task_id": task,
    }


def _fen(amount: Decimal) -> float:
    """``cents``, once per distinct non-zero amount (a zero is not cached: -0 and 0 would not be)."""
    return _cents(amount) if amount else cents(amount)


_cents = lru_cache(maxsize=4096)(cents)


def _content(sent: str, resolved: str, rule_name: str, line: DecidedLine) -> str:
    """``vola_cont``: what was found, its article, and when the line passes again.

    A ban's end is no day of restored settlement: the dissolved agreement (解除) does not come
    back, so it is said as the first day a new agreement may start.
    """
    text = f"开单医生{sent}" + (f"（医保医师代码{resolved}）" if resolved != sent else "") + f"：{rule_name}"
    if line.basis:
        text += f"（{line.basis}）"
    if line.until:
        text += f"，{line.until}起可恢复结算" if line.reason in _RESUMES else f"，{line.until}起按新签服务协议结算"
    if line.ban_until:
        text += f"，{line.ban_until}前不得重新签订服务协议"
    return text
