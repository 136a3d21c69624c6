"""Where a ``/v1`` claim check's CPU goes, stage by stage, in one process (no server, no socket).

The bench's store and claim mix as ``bench.asgi`` has them, drgate's lifespan run (the whole
snapshot preloaded), then each stage timed alone over the same 2,000 claims, best of 7 blocks of
CPU time: the whole request through the app, the same through the endpoint alone (no request id,
no key guard), ``answer_check`` (the body to the answer's bytes), and its parts: validation
(``parse_claim``), the check without metrics or log, ``metrics.observe``, the decision log's
``append`` and the answer's ``json()``. A stage timed alone runs warm in the CPU's caches: the sum
of the parts comes out below the whole, and the whole below what the same request costs behind
a server (``bench.budget`` says how much the server adds)::

    python -m bench.stages                      # 1 and 20 lines, 300,000 physicians
    python -m bench.stages --lines 20 --physicians 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
import uvloop

from bench.asgi import exchange
from bench.setup import cleanup, drgate_env, prepare_redis
from loadtests.claims import make_claims

__all__ = ["main"]


async def _best(fn: Callable[[int], Any], blocks: int = 7, n: int = 3000) -> float:
    """The fastest block's CPU µs a call of ``fn(i)`` (awaited when it returns an awaitable)."""
    best = float("inf")
    for _ in range(blocks):
        started = time.process_time()
        for i in range(n):
            out = fn(i)
            if isinstance(out, Awaitable):
                await out
        best = min(best, (time.process_time() - started) / n * 1e6)
        await asyncio.sleep(0)  # the decision log's writer runs between blocks, not inside one
    return best


async def _stages(app: Any, physicians: int, sizes: list[int]) -> list[str]:
    out: list[str] = []
    async with app.router.lifespan_context(app):
        state = app.state.gateway
        while not state.cache.complete:
            await asyncio.sleep(0.1)
        for lines in sizes:
            figures = await _one_size(app, state, [c.body for c in make_claims(physicians, lines, 2000)])
            out += [f"{lines} line(s), CPU µs, best of 7 blocks of 3,000:"]
            out += [f"  {name:28} {us:7.2f}" for name, us in figures.items()]
    return out


async def _one_size(app: Any, state: Any, bodies: list[bytes]) -> dict[str, float]:
    from gateway.api.schemas import parse_claim
    from gateway.api.v1 import answer_check

    endpoint = app.check.app  # the claim check behind its key guard (gateway.app)

    async def alone(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["app"] = app
        await endpoint(scope, receive, send)

    n = len(bodies)
    claims = [parse_claim(b) for b in bodies]
    service = state.checks
    metrics, decisions = service.metrics, service.decisions
    figures = {
        "whole request (the app)": await _best(lambda i: exchange(app, bodies[i % n])),
        "the endpoint alone": await _best(lambda i: exchange(alone, bodies[i % n])),
        "answer_check": await _best(lambda i: answer_check(state, bodies[i % n], 0.0)),
        "parse_claim": await _best(lambda i: parse_claim(bodies[i % n])),
    }
    service.metrics = service.decisions = None
    try:
        figures["check, no metrics or log"] = await _best(lambda i: service.check(state.reader, claims[i % n], 0.0,
                                                                                  "v1"))
        results = [await service.check(state.reader, c, 0.0, "v1") for c in claims]
    finally:
        service.metrics, service.decisions = metrics, decisions
    figures["metrics.observe"] = await _best(lambda i: metrics.observe(results[i % n], 0.001, state.cache))
    figures["decision log append"] = await _best(lambda i: decisions.append(results[i % n], "v1", None))
    await decisions.flush()
    figures["answer json()"] = await _best(lambda i: results[i % n].json())
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.stages", description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", default="1,20")
    p.add_argument("--physicians", type=int, default=300_000)
    p.add_argument("--redis-url", default=os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--prefix", default="drgate-bench-stages")
    p.add_argument("--var", type=Path, default=Path("var/bench"))
    p.add_argument("--keep", action="store_true", help="keep the bench's Redis keys")
    args = p.parse_args(argv)
    args.var.mkdir(parents=True, exist_ok=True)
    client = redis.Redis.from_url(args.redis_url)
    try:
        prepare_redis(client, args.prefix, args.var / "store.db", args.physicians)
        os.environ.update(drgate_env(args.redis_url, args.prefix, args.var / "store.db"))
        from gateway.app import create_app

        lines = uvloop.run(_stages(create_app(), args.physicians, [int(n) for n in args.lines.split(",")]))
    finally:
        if not args.keep:
            cleanup(client, args.prefix, None)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
