"""Claim results written through the real decision log (``gateway.decisionlog.writer.DecisionLog``)
into the tests' Redis, batch by batch, as the HTTP workers write them."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from cache.keys import Keys
from gateway.check.core import ClaimResult
from gateway.decisionlog.retention import Retention
from gateway.decisionlog.writer import DecisionLog

__all__ = ["write"]


def write(redis_url: str, keys: Keys, retention: Retention, batches: list[list[ClaimResult]],
          pause: float = 0.0) -> None:
    """Append each batch and flush it (the log's retention trims at each flush), ``pause`` seconds apart."""
    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url)
        log = DecisionLog(client, keys, retention)
        for batch in batches:
            for r in batch:
                log.append(r)
            await log.flush()
            await asyncio.sleep(pause)
        await client.aclose()

    asyncio.run(scenario())
