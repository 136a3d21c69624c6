"""Demo data for 衢州: one physician (or institution) per reason code, dated around today.

Lines at ``CLINIC`` are ``institution_suspended``, at ``TERMINATED`` ``institution_terminated``.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = ["DEMO", "curl_examples", "write_demo_data"]

HOSPITAL = "H33080200001"  # 衢州市人民医院 (demo)
CLINIC = "H33080200002"  # suspended institution (衢州 第十四条)
OTHER = "H33080200003"
TERMINATED = "H33080200004"  # terminated institution (衢州 第十四条 解除)

#: Physician code -> the reason a line at HOSPITAL gets today.
DEMO: dict[str, str] = {
    "D330802000001": "ok",
    "D330802000002": "suspended",
    "D330802000003": "terminated",
    "D330802000004": "disqualified",
    "D330802000005": "no_agreement",
    "D330802000006": "ok",  # credit C: watch flag
    "D330802000007": "ok",  # interview: watch flag
    "D330802000099": "unknown_physician",
}


def demo_rows(today: date) -> list[dict[str, Any]]:
    def d(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    rows: list[dict[str, Any]] = [
        {"kind": "institution", "code": HOSPITAL, "name": "衢州市人民医院", "region": "330802"},
        {"kind": "institution", "code": CLINIC, "name": "衢州市柯城区示例诊所", "region": "330802"},
        {"kind": "institution", "code": OTHER, "name": "衢州市衢江区示例医院", "region": "330803"},
        {"kind": "institution_sanction", "id": "IS-demo-1", "institution_code": CLINIC, "action": "suspend",
         "start": d(-30), "end": d(60), "basis": "衢医保〔示例〕1号"},
        {"kind": "institution", "code": TERMINATED, "name": "衢州市智造新城示例诊所", "region": "330802"},
        {"kind": "institution_sanction", "id": "IS-demo-2", "institution_code": TERMINATED, "action": "terminate",
         "start": d(-20), "end": None, "basis": "衢医保〔示例〕2号"},
    ]
    for n, code in enumerate(c for c in DEMO if c != "D330802000099"):
        rows.append({"kind": "physician", "code": code, "name": f"示例医师{n + 1}"})
        where = OTHER if code == "D330802000005" else HOSPITAL
        rows.append({"kind": "agreement", "physician_code": code, "institution_code": where,
                     "start": "2021-01-01", "end": None})
        rows.append({"kind": "agreement", "physician_code": code, "institution_code": CLINIC,
                     "start": "2021-01-01", "end": None})
        if code == "D330802000001":
            rows.append({"kind": "agreement", "physician_code": code, "institution_code": TERMINATED,
                         "start": "2021-01-01", "end": None})
    rows += [
        {"kind": "sanction", "id": "S-demo-2", "physician_code": "D330802000002", "action": "suspend",
         "start": d(-10), "end": d(50), "basis": "衢医保〔示例〕2号"},
        {"kind": "sanction", "id": "S-demo-3", "physician_code": "D330802000003", "action": "terminate",
         "start": d(-100), "end": None, "ban_until": d(265), "basis": "衢医保〔示例〕3号"},
        {"kind": "credit", "physician_code": "D330802000004", "level": "D", "effective_from": d(-5)},
        {"kind": "credit", "physician_code": "D330802000006", "level": "C", "effective_from": d(-5)},
        {"kind": "sanction", "id": "S-demo-7", "physician_code": "D330802000007", "action": "interview",
         "start": d(-3), "end": f"{today.year + 1}-01-01", "basis": "衢医保〔示例〕7号"},
    ]
    return rows


def write_demo_data(path: Path, today: date) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in demo_rows(today)))
    return path


def curl_examples(host: str, port: int, today: date) -> list[str]:
    def claim(code: str) -> str:
        body = {"claim_id": f"C-{code[-3:]}", "institution_code": HOSPITAL, "service_date": today.isoformat(),
                "med_type": "11", "lines": [{"line_id": "1", "physician_code": code}]}
        return (f"curl -s http://{host}:{port}/v1/claims/check -H 'content-type: application/json' "
                f"-d '{orjson.dumps(body).decode()}'")

    return [claim("D330802000001") + "   # passes: ok",
            claim("D330802000002") + "   # rejected: suspended"]
