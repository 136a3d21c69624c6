"""3103 事前事中服务反馈: the doctor's answer to a result, recorded against its decision.

    input.data.warn_type           1 事前, 2 事中 (the 3101/3102 call answered)
    input.data.warns[].warn_rslt_id  the result's ``jr_id`` (``{decision_id}-{n}``)
    input.data.warns[].dspo_way      处理方式: 1 继续执行 (go on), 2 返回修改 (go back and change)
    input.data.warns[].dspo_way_rea  处理原因: required with 1, the reason for going on

Each warn becomes a ``feedback`` entry of the decision log (``gateway.decisionlog.writer``), next to the
decision it names, where the help desk and the auditors read decisions; it names its caller (the
API key's name, never the key), as every decision does.  The whole envelope is
refused (``infcode -1``, the field named) when one warn is unreadable: a feedback half recorded
would tell the auditor a wrong story.  ``output`` is empty, as the platform's.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from gateway.decisionlog.entries import feedback_entry
from gateway.errors import Unreadable
from gateway.formats.nhsa.envelope import Header
from gateway.formats.nhsa.front import NhsaFront
from gateway.formats.nhsa.wire import as_list, text
from gateway.state import GatewayState

__all__ = ["record_feedback"]

MAX_WARNS = 1000
_RESULT_ID = re.compile(r"([0-9a-f]{32})-\d{1,4}")  # jr_id of gateway.formats.nhsa.results
_WAYS = {"1": "continue", "2": "modify"}  # dspo_way 1 继续执行, 2 返回修改


async def record_feedback(state: GatewayState, front: NhsaFront, header: Header, received: datetime,
                          caller: str | None = None) -> dict[str, Any]:
    """Record the warns of ``header`` sent by ``caller`` (the key's name; None: an unkeyed gateway)."""
    entries = _read(header, caller)  # Unreadable goes to the handler: infcode -1 naming the field
    decisions = state.decisions
    if decisions is not None:
        for entry in entries:
            decisions.append_entry(entry)
    return front.responder.success({}, received, header.region)


def _read(header: Header, caller: str | None) -> list[dict[str, Any]]:
    found = as_list(header.input.get("data"))
    if len(found) != 1 or not isinstance(found[0], dict):
        raise Unreadable("input.data: must be one object")
    data = found[0]
    warn_type = text(data.get("warn_type"), 3)
    if warn_type not in ("1", "2"):
        raise Unreadable("input.data.warn_type: must be 1 (事前) or 2 (事中)")
    try:
        warns = as_list(data.get("warns"))
    except Unreadable as exc:
        raise Unreadable(f"input.data.warns: {exc}") from None
    if not warns:
        raise Unreadable("input.data.warns: at least one warn is required")
    if len(warns) > MAX_WARNS:
        raise Unreadable(f"input.data.warns: more than {MAX_WARNS}")
    received = time.time()
    entries = []
    for i, warn in enumerate(warns):
        at = f"input.data.warns[{i}]"
        if not isinstance(warn, dict):
            raise Unreadable(f"{at}: must be an object")
        field = "warn_rslt_id"
        try:
            result_id = text(warn.get(field), 64)
            match = _RESULT_ID.fullmatch(result_id or "")
            if match is None:
                raise Unreadable("must be the jr_id of a result drgate gave ({decision_id}-{n})")
            field = "dspo_way"
            way = _WAYS.get(text(warn.get(field), 3) or "")
            if way is None:
                raise Unreadable("must be 1 (继续执行) or 2 (返回修改)")
            field = "dspo_way_rea"
            reason = text(warn.get(field), 500)
            if way == "continue" and reason is None:
                raise Unreadable("is required when dspo_way is 1 (继续执行): say why the order goes on")
        except Unreadable as exc:
            raise Unreadable(f"{at}.{field}: {exc}") from None
        entries.append(feedback_entry(received, match.group(1), {
            "claim": header.msgid, "result": result_id, "warn_type": warn_type, "way": way, "reason": reason or ""},
            caller=caller))
    return entries
