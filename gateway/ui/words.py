"""The workbench's words: each code of the contract (reasons, actions, due items, roles) in Chinese.

The English code stays beside it on the pages (the API and the logs speak it); this is only what a
person reads first.
"""

from __future__ import annotations

__all__ = ["ACTIONS", "DECISIONS", "DUE", "OPS", "REASONS", "ROLES", "word"]

#: A line's reason: what it is called, and why a line gets it (docs/decision.md).
REASONS: dict[str, tuple[str, str]] = {
    "institution_suspended": ("机构暂停", "该定点医疗机构的服务协议在服务日被暂停, 该机构每一行都拒付 (衢州 第十四条)"),
    "institution_terminated": ("机构解除", "该定点医疗机构的服务协议已解除, 医师在该机构的协议随之终止 "
                               "(衢州 第十四条)"),
    "unknown_physician": ("未登记医师", "医师代码不在医保医师库中 (衢州 第十三条、第十五条)"),
    "disqualified": ("取消资格", "信用等级 D: 自生效日起取消医保医师资格 (衢州 第二十三条)"),
    "terminated": ("解除协议", "累计扣分达到解除档或被决定解除, 禁止期内不签新协议 (衢州 第二十一条)"),
    "suspended": ("暂停协议", "累计扣分达到暂停档或被决定暂停; 未按时申请恢复的继续暂停 "
                  "(衢州 第二十一条、第二十二条 / 苏州 第十六条)"),
    "no_agreement": ("无服务协议", "服务日在该机构没有有效的医保医师服务协议 (衢州 第八条、第十三条)"),
    "ok": ("通过", "有效协议, 无处理"),
    "emergency_exempt": ("急诊抢救豁免", "急诊、抢救不受限制, 原本会拒付 (衢州 第十五条)"),
    "unverified": ("未核验", "记录暂时无法读取, 按配置的策略处理"),
}

DECISIONS = {"pass": "通过", "reject": "拒付", "partial": "部分拒付"}

ACTIONS = {"interview": "约谈", "suspend": "暂停协议", "terminate": "解除协议", "settlement_suspend": "中止结算",
           "warning": "提醒"}

DUE = {"interview": "约谈", "hearing": "告知与听证", "settlement_suspend": "中止结算决定",
       "decide_appeal": "异议待决定", "serve_notice": "告知待送达"}

ROLES = {"settlement": "结算", "helpdesk": "咨询", "officer": "经办", "admin": "管理"}

#: A version's operation in the history (rules.store.history).
OPS = {"create": "新建", "correct": "更正", "revoke": "撤销", "before": "原有"}

_TABLES: dict[str, dict[str, str]] = {"reason": {k: v[0] for k, v in REASONS.items()}, "decision": DECISIONS,
                                      "action": ACTIONS, "due": DUE, "role": ROLES, "op": OPS}


def word(code: str | None, table: str) -> str:
    """The Chinese name of ``code`` in ``table``, or the code itself when it has none."""
    if code is None:
        return ""
    return _TABLES[table].get(code, code)
