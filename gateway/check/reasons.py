"""The reason codes of a line's answer, each declared once: the registry every front reads.

A reason is the first obstacle that applies to a line (docs/decision.md, "Reasons, in the order
they are checked"), or why a line passes.  Each one says here:

    decision     ``pass``, ``reject``, or ``fail_mode`` (``unverified``: pass by ``fail_open``,
                 reject by ``fail_closed``)
    order        its place in the decision table: the first that applies is the line's reason
    article_key  the key under the city profile's ``[reasons]`` (``rules/profiles/*.toml``) whose
                 value is the answer's ``basis``; ``None``: the answer carries no article
    nhsa         the national platform's result (3101 ``rule_id``, ``sev_deg`` 严重程度) of a line
                 that is rejected for it; ``None``: the reason never rejects, never a result
    label        its short Chinese name, what a person reads first (the workbench's pages)
    zh, en       what it means, in Chinese (the platform's ``rule_name`` too; the workbench's why)
                 and in English: the OpenAPI document's description

The codes are also plain module-level strings (``SUSPENDED`` …) for the hot path and every
module that names one; the tables of docs/decision.md, README and docs/nhsa.md are checked
against this registry by ``tests/test_reasons.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CLEAR_VIOLATION",
    "DISQUALIFIED",
    "DOUBTFUL",
    "EMERGENCY_EXEMPT",
    "FAIL_MODE",
    "INSTITUTION_SUSPENDED",
    "INSTITUTION_TERMINATED",
    "NO_AGREEMENT",
    "OK",
    "PASS",
    "REASONS",
    "REJECT",
    "SUSPENDED",
    "TERMINATED",
    "UNKNOWN_PHYSICIAN",
    "UNVERIFIED",
    "NhsaRule",
    "Reason",
    "articles",
    "codes",
    "reason",
]

PASS = "pass"
REJECT = "reject"
#: The decision of ``unverified``: the configured fail mode's (``DRGATE_ON_UNVERIFIED``).
FAIL_MODE = "fail_mode"

INSTITUTION_SUSPENDED = "institution_suspended"
INSTITUTION_TERMINATED = "institution_terminated"
UNKNOWN_PHYSICIAN = "unknown_physician"
DISQUALIFIED = "disqualified"
TERMINATED = "terminated"
SUSPENDED = "suspended"
NO_AGREEMENT = "no_agreement"
OK = "ok"
EMERGENCY_EXEMPT = "emergency_exempt"
UNVERIFIED = "unverified"

#: 3101 ``sev_deg`` 严重程度: 1 明确违规 (read from the registry), 2 高度可疑 (not established).
CLEAR_VIOLATION = "1"
DOUBTFUL = "2"


@dataclass(frozen=True, slots=True)
class NhsaRule:
    """The national platform's rule-check result of a line rejected for a reason (3101/3102)."""

    rule_id: str
    sev_deg: str


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code of a line's answer; every field is given where it is declared."""

    code: str
    order: int
    decision: str
    article_key: str | None
    nhsa: NhsaRule | None
    label: str
    zh: str
    en: str

    @property
    def decision_text(self) -> str:
        """The decision as docs/decision.md's table says it."""
        if self.decision == FAIL_MODE:
            return "pass (`fail_open`) or reject (`fail_closed`)"
        return self.decision


#: Every reason, in the order of the decision table (``order``); the exemption and the unread
#: record come after the obstacles they replace.
REASONS: tuple[Reason, ...] = (
    Reason(INSTITUTION_SUSPENDED, 1, REJECT, INSTITUTION_SUSPENDED, NhsaRule("DRGATE-01", CLEAR_VIOLATION),
           "机构暂停", "定点医疗机构医保服务协议暂停期间",
           "the institution's 定点服务协议 is suspended (暂停)"),
    Reason(INSTITUTION_TERMINATED, 2, REJECT, INSTITUTION_TERMINATED, NhsaRule("DRGATE-07", CLEAR_VIOLATION),
           "机构解除", "定点医疗机构医保服务协议已解除",
           "the institution's 定点服务协议 is terminated (解除): its physicians' agreements there are dissolved"),
    Reason(UNKNOWN_PHYSICIAN, 3, REJECT, UNKNOWN_PHYSICIAN, NhsaRule("DRGATE-02", CLEAR_VIOLATION),
           "未登记医师", "开单医生不在医保医师库",
           "the ordering physician is not in the registry at all"),
    Reason(DISQUALIFIED, 4, REJECT, DISQUALIFIED, NhsaRule("DRGATE-03", CLEAR_VIOLATION),
           "取消资格", "开单医生医保医师资格已取消",
           "credit D in force: the physician's 医保医师资格 is cancelled"),
    Reason(TERMINATED, 5, REJECT, TERMINATED, NhsaRule("DRGATE-04", CLEAR_VIOLATION),
           "解除协议", "开单医生医保医师服务协议已解除",
           "the physician's 医保医师服务协议 is terminated (解除) and no new agreement covers the day"),
    Reason(SUSPENDED, 6, REJECT, SUSPENDED, NhsaRule("DRGATE-05", CLEAR_VIOLATION),
           "暂停协议", "开单医生医保医师服务协议暂停期间",
           "the physician's 医保医师服务协议 (or settlement) is suspended (暂停) on the day"),
    Reason(NO_AGREEMENT, 7, REJECT, NO_AGREEMENT, NhsaRule("DRGATE-06", CLEAR_VIOLATION),
           "无服务协议", "开单医生未与本定点医疗机构签订医保医师服务协议",
           "no agreement at this institution on that day"),
    Reason(OK, 8, PASS, None, None,
           "通过", "开单医生医保医师服务协议有效",
           "an agreement at this institution covers the day: the line may be paid"),
    Reason(EMERGENCY_EXEMPT, 9, PASS, EMERGENCY_EXEMPT, None,
           "急诊抢救豁免", "急诊、抢救，免于拒付",
           "emergency or rescue (急诊、抢救) turns a rejection into a pass; `would_reject` names the reason replaced"),
    Reason(UNVERIFIED, 10, FAIL_MODE, None, NhsaRule("DRGATE-09", DOUBTFUL),
           "未核验", "开单医生医保医师状态暂无法核验",
           "the record could not be read (Redis down and the record not held, a corrupt record, "
           "a snapshot of another profile)"),
)

_BY_CODE: dict[str, Reason] = {r.code: r for r in REASONS}


def codes() -> tuple[str, ...]:
    """Every reason code, in the order of the decision table."""
    return tuple(r.code for r in REASONS)


def reason(code: str) -> Reason:
    """The registry's entry of ``code``; ``KeyError`` if it is no reason code."""
    return _BY_CODE[code]


def articles(profile_reasons: Mapping[str, str]) -> dict[str, str]:
    """Reason code → its article in a city profile's ``[reasons]`` (read by ``article_key``): the answer's basis."""
    return {r.code: profile_reasons[r.article_key] for r in REASONS
            if r.article_key is not None and r.article_key in profile_reasons}
