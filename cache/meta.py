"""A snapshot's ``meta`` hash as the sync reads and stamps it: its fields, and the times it writes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import redis

from cache.keys import Keys

__all__ = ["china_today", "read_meta", "stamp", "sync_stamp"]


def read_meta(client: redis.Redis, keys: Keys) -> dict[str, str]:
    """The published ``meta`` hash, decoded (empty when nothing is published)."""
    raw: dict[bytes, bytes] = client.hgetall(keys.meta)  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in raw.items()}


def china_today() -> int:
    """Day ordinal of today in Asia/Shanghai (no daylight saving time)."""
    return datetime.now(timezone(timedelta(hours=8))).date().toordinal()


def stamp(name: str = "published") -> dict[str, str]:
    """``<name>_at`` (ISO, ms) and ``<name>_ts`` (Unix seconds) of now, as ``meta`` holds them."""
    now = datetime.now(UTC)
    return {f"{name}_at": now.isoformat(timespec="milliseconds"), f"{name}_ts": f"{now.timestamp():.3f}"}


def sync_stamp(outcome: str) -> dict[str, str]:
    """The last sync's outcome as ``{prefix}:sync`` holds it: when, and how it ended."""
    now = time.time()
    return {"at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"), "ts": f"{now:.3f}",
            "outcome": outcome}
