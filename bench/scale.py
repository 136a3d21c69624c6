"""Scale figures at 1,000,000 physicians."""

from __future__ import annotations

from pathlib import Path

__all__ = ["measure"]


def measure(redis_url: str, var: Path) -> list[str]:
    return []
