"""Each transaction's answer, from the request's bytes to the response's: no HTTP framework here.

    2204, 2301  fee uploads: every line passes (or is exempt, or a refund) → forwarded to the
                platform when one is configured, else the fee-split rows; a rejected or refused
                line → ``infcode -1``, ``err_msg`` naming each ``feedetl_sn`` and its reason, and
                the 3101-shaped results in ``output.result``
    3101, 3102  the rule check: ``infcode 0``, ``output.result`` the rejected and refused orders
    3103        the doctor's feedback on a result (``gateway.formats.nhsa.feedback``)
"""

from __future__ import annotations

from datetime import datetime

from gateway.errors import BadEnvelope, Unreadable
from gateway.formats.nhsa.envelope import read_header
from gateway.formats.nhsa.feedback import record_feedback
from gateway.formats.nhsa.fees import read_fees, rows_json
from gateway.formats.nhsa.front import Forwarded, NhsaFront
from gateway.formats.nhsa.lines import Decided, Refusal, decide
from gateway.formats.nhsa.orders import read_analysis
from gateway.formats.nhsa.results import judgements
from gateway.state import GatewayState

__all__ = ["TRANSACTIONS", "answer"]

#: Transactions served: infno → what it is.
TRANSACTIONS = {
    "2204": "门诊费用明细信息上传",
    "2301": "住院费用明细信息上传",
    "3101": "明细审核事前分析服务",
    "3102": "明细审核事中分析服务",
    "3103": "事前事中服务反馈服务",
}
UPLOADS = ("2204", "2301")


async def answer(state: GatewayState, front: NhsaFront, infno: str, body: bytes | None,
                 headers: list[tuple[bytes, bytes]], received: datetime, started: float,
                 caller: str | None = None) -> Forwarded:
    """The answer to ``body`` sent to ``/nhsa/{infno}`` (None: over the size limit)."""
    responder = front.responder
    if body is None:
        state.metrics.refuse("nhsa", "too_large")
        return front.envelope(responder.failure("request body over 4 MiB; send at most 1000 lines a request",
                                                received), 413)
    try:
        header = read_header(body, infno)
    except BadEnvelope as exc:
        state.metrics.refuse("nhsa", "invalid")
        return front.envelope(responder.failure(str(exc), received, exc.region))
    region = header.region
    try:
        if infno == "3103":
            return front.envelope(await record_feedback(state, front, header, received, caller))
        if infno not in UPLOADS:
            analysis = read_analysis(header.input, header.institution)
            rejected = await decide(state, header.msgid, analysis.lines, started, f"nhsa{infno}", caller,
                                    analysis.alike)
            results = judgements(rejected, analysis.refusals, front.dictionary, analysis.rule_ids)
            return front.envelope(responder.success({"result": results}, received, region))
        lines, refusals, parts, alike = read_fees(header.input, header.institution)
    except Unreadable as exc:
        state.metrics.refuse("nhsa", "invalid")
        return front.envelope(responder.failure(str(exc), received, region))
    rejected = await decide(state, header.msgid, lines, started, f"nhsa{infno}", caller, alike)
    if refusals:  # the envelope is answered, its unreadable lines refused alone
        state.metrics.refuse("nhsa", "unreadable_line")
    if rejected or refusals:
        output = {"result": judgements(rejected, refusals, front.dictionary)}
        return front.envelope(responder.failure(summary(rejected, refusals), received, region, output))
    if front.upstream is not None:
        return await front.forward(infno, body, headers, received, region)
    # the rows written a distinct amount at a time, the envelope around them (as envelope() writes it)
    return front.written(responder.success_json(b'{"result":%b}' % rows_json(parts), received, region))


def summary(rejected: list[Decided], refusals: list[Refusal], limit: int = 200) -> str:
    """``err_msg``: each rejected or refused ``feedetl_sn`` with its reason, as many as fit in ``limit``."""
    items = [f"{d.line.sn} {d.result.reason}" for d in rejected]
    if refusals:
        items += [f"{r.sn or '-'} unreadable {r.field.rsplit('.', 1)[-1]}" for r in refusals]
    text = f"明细审核未通过 {len(items)} 条: "
    whole = text + "; ".join(items)
    # the common answer: every item fits even with the longest "另 n 条" after it, so none is cut below
    if len(whole) + len(f"; 另 {len(items)} 条") <= limit:
        return whole
    return cut_summary(items, limit)


def cut_summary(items: list[str], limit: int = 200) -> str:
    """``err_msg`` of ``items`` an item at a time, cut before the first that would leave no room for
    "; 另 n 条" (``summary``'s answer when they do not all fit; tests hold its shortcut to this)."""
    text = f"明细审核未通过 {len(items)} 条: "
    for n, item in enumerate(items):
        joined = text + ("; " if n else "") + item
        remaining = len(items) - n - 1
        if len(joined) + (len(f"; 另 {remaining} 条") if remaining else 0) > limit:
            return text + ("; " if n else "") + f"另 {len(items) - n} 条"
        text = joined
    return text
