"""The workbench's words: each code of the contract (reasons, actions, due items, roles) in Chinese.

The English code stays beside it on the pages (the API and the logs speak it); this is only what a
person reads first.  A reason's words are the registry's (``gateway.check.reasons``: its ``label``,
and its ``zh`` for why), never a table of the workbench's own.
"""

from __future__ import annotations

from gateway.check.reasons import REASONS, reason

__all__ = ["ACTIONS", "DECISIONS", "DUE", "OPS", "ROLES", "reason_why", "word"]

DECISIONS = {"pass": "通过", "reject": "拒付", "partial": "部分拒付"}

ACTIONS = {"interview": "约谈", "suspend": "暂停协议", "terminate": "解除协议", "settlement_suspend": "中止结算",
           "warning": "提醒"}

DUE = {"interview": "约谈", "hearing": "告知与听证", "settlement_suspend": "中止结算决定",
       "decide_appeal": "异议待决定", "serve_notice": "告知待送达"}

ROLES = {"settlement": "结算", "helpdesk": "咨询", "officer": "经办", "admin": "管理"}

#: A version's operation in the history (rules.store.history).
OPS = {"create": "新建", "correct": "更正", "revoke": "撤销", "before": "原有"}

_TABLES: dict[str, dict[str, str]] = {"reason": {r.code: r.label for r in REASONS}, "decision": DECISIONS,
                                      "action": ACTIONS, "due": DUE, "role": ROLES, "op": OPS}


def word(code: str | None, table: str) -> str:
    """The Chinese name of ``code`` in ``table``, or the code itself when it has none."""
    if code is None:
        return ""
    return _TABLES[table].get(code, code)


def reason_why(code: str | None) -> str:
    """Why a line gets reason ``code``, in Chinese (the registry's); "" for no reason code.  The
    article is the line's own (its ``basis``, from the city profile), shown beside it."""
    try:
        return reason(code or "").zh
    except KeyError:
        return ""
