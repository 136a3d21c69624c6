"""How the ``/nhsa/`` routes are documented in OpenAPI: summary, description, request and answers."""

from __future__ import annotations

from typing import Any

__all__ = ["operation"]

_NAMES = {
    "2204": "门诊费用明细信息上传", "2301": "住院费用明细信息上传", "3101": "明细审核事前分析服务",
    "3102": "明细审核事中分析服务", "3103": "事前事中服务反馈服务",
}


def operation(infno: str) -> dict[str, Any]:
    """Keyword arguments of ``APIRouter.add_api_route`` for ``/nhsa/{infno}``."""
    return {
        "summary": f"{infno} {_NAMES[infno]}",
        "description": "The platform's envelope in, its envelope out: `infcode` 0, or -1 with `err_msg`. "
                       "See docs/nhsa.md.",
        "openapi_extra": {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "description": f"The platform's {infno} envelope; see docs/nhsa.md"}}}}},
    }
