"""Import rows (JSON Lines objects, docs/import-format.md) for the store, CLI and integration tests."""

from __future__ import annotations

from typing import Any

PHYSICIAN = "D330802000001"
OTHER = "D330802000002"
SITE_A = "H33080200001"
SITE_B = "H33080200002"

Row = dict[str, Any]


def institution(code: str = SITE_A) -> Row:
    return {"kind": "institution", "code": code, "name": f"医院 {code[-2:]}", "region": "330802"}


def physician(code: str = PHYSICIAN) -> Row:
    return {"kind": "physician", "code": code, "name": "测试医师"}


def agreement(start: str, end: str | None = None, *, site: str = SITE_A, code: str = PHYSICIAN) -> Row:
    return {"kind": "agreement", "physician_code": code, "institution_code": site, "start": start, "end": end}


def violation(id: str, item: str, scored_on: str, *, site: str = SITE_A, code: str = PHYSICIAN,
              case_id: str | None = None, act_id: str | None = None) -> Row:
    row: Row = {
        "kind": "violation", "id": id, "physician_code": code, "institution_code": site, "item": item,
        "case_id": case_id or f"case-{id}", "occurred_on": scored_on, "scored_on": scored_on,
        "basis_type": "audit", "basis_no": f"稽核-{id}",
    }
    if act_id is not None:
        row["act_id"] = act_id
    return row


def sanction(id: str, action: str, start: str, end: str | None = None, ban_until: str | None = None,
             *, code: str = PHYSICIAN) -> Row:
    row: Row = {"kind": "sanction", "id": id, "physician_code": code, "action": action, "start": start,
                "end": end, "basis": f"决定书-{id}"}
    if ban_until is not None:
        row["ban_until"] = ban_until
    return row


def restoration(filed_on: str, *, code: str = PHYSICIAN) -> Row:
    return {"kind": "restoration_request", "physician_code": code, "filed_on": filed_on}


def revocation(target_id: str, revoked_on: str) -> Row:
    return {"kind": "revocation", "target_id": target_id, "revoked_on": revoked_on, "reason": "复核撤销"}


def registry(*codes: str, sites: tuple[str, ...] = (SITE_A, SITE_B)) -> list[Row]:
    """Institutions and physicians, nothing else."""
    return [institution(s) for s in sites] + [physician(c) for c in codes or (PHYSICIAN,)]


def appeal(id: str, target_id: str, filed_on: str, decided_on: str | None = None,
           outcome: str | None = None) -> Row:
    return {"kind": "appeal", "id": id, "target_id": target_id, "filed_on": filed_on, "decided_on": decided_on,
            "outcome": outcome}


def notice(id: str, served_on: str, *, code: str = PHYSICIAN, channel: str = "sms") -> Row:
    return {"kind": "notice", "id": id, "physician_code": code, "served_on": served_on, "channel": channel}


def workbench_rows() -> list[Row]:
    """Two institutions and 30 physicians with an agreement at SITE_A from 2025 (PHYSICIAN among them,
    named 测试医师): one of them suspended or terminated stays under the sync's shrink guard (5%)."""
    others = [f"D3308020001{n:02d}" for n in range(29)]
    return [*registry(PHYSICIAN, *others), *(agreement("2025-01-01", code=c) for c in (PHYSICIAN, *others))]
