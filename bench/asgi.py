"""Per-claim cost of an app inside its process: the ASGI app called directly, no server, no socket.

What the side-by-side bench cannot separate: the app's own microseconds, apart from uvicorn, the
load generator and the other apps on the 2 cores.  The bench's store and claim mix (300,000
physicians, published under the bench's prefix), the app's lifespan run as uvicorn runs it
(drgate preloads the whole snapshot first), then the claims one after another, yielding to the
event loop every 50 so that background work (the decision log's writer) is counted too::

    python -m bench.asgi --app drgate --lines 20            # µs a claim
    python -m bench.asgi --app drgate --lines 20 --profile  # and where they go (cProfile)
    python -m bench.asgi --path 2204 --lines 20             # the same claims as 2204 uploads (/nhsa/2204)
    python -m bench.asgi --path 3101 --lines 20             # ... as 3101 order checks (/nhsa/3101)

Profiling inflates every Python call; compare runs of the same kind only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import importlib
import os
import pstats
import time
from pathlib import Path
from typing import Any

import redis
import uvloop

from bench.servers import APPS
from bench.setup import cleanup, drgate_env, prepare_redis
from loadtests.claims import make_claims
from loadtests.nhsa import as_2204, as_3101

__all__ = ["main"]


PATHS = {"v1": "/v1/claims/check", "2204": "/nhsa/2204", "3101": "/nhsa/3101"}


async def exchange(app: Any, body: bytes, path: str = PATHS["v1"]) -> list[dict[str, Any]]:
    """One ``POST path`` through ``app``, as uvicorn would hand it over; the messages it sent."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    await app(scope, receive, send)
    return sent


async def request(app: Any, body: bytes, path: str = PATHS["v1"]) -> None:
    """One ``POST path`` through ``app``; fails unless it answers 200."""
    sent = await exchange(app, body, path)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"answered {sent[0]['status']}: {sent[-1].get('body', b'')[:200]!r}")


async def drive(app: Any, bodies: list[bytes], count: int, profile: cProfile.Profile | None,
                path: str = PATHS["v1"]) -> tuple[float, float]:
    """Seconds for ``count`` claims, wall and this process's CPU, after a warm-up round of the bodies."""
    router = getattr(app, "router", None)  # the raw floor is a bare ASGI callable: no lifespan to run
    async with router.lifespan_context(app) if router is not None else contextlib.nullcontext():
        state = getattr(getattr(app, "state", None), "gateway", None)
        while state is not None and not state.cache.complete:  # as the bench waits for a warm worker
            await asyncio.sleep(0.1)
        for body in bodies:
            await request(app, body, path)
        if profile is not None:
            profile.enable()
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            await request(app, bodies[i % len(bodies)], path)
            if i % 50 == 49:
                await asyncio.sleep(0)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile is not None:
            profile.disable()
        return seconds, cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.asgi", description=__doc__.split("\n\n")[0])
    p.add_argument("--app", choices=["raw", "floor", "drgate"], default="drgate")
    p.add_argument("--lines", type=int, default=20)
    p.add_argument("--path", choices=sorted(PATHS), default="v1",
                   help="v1: /v1/claims/check; 2204, 3101: the same claims as the national platform's transactions")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--physicians", type=int, default=300_000)
    p.add_argument("--profile", action="store_true", help="print the 30 most expensive functions")
    p.add_argument("--redis-url", default=os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--prefix", default="drgate-bench")
    p.add_argument("--var", type=Path, default=Path("var/bench"))
    p.add_argument("--keep", action="store_true", help="keep the bench's Redis keys")
    args = p.parse_args(argv)
    args.var.mkdir(parents=True, exist_ok=True)
    client = redis.Redis.from_url(args.redis_url)
    try:
        prepare_redis(client, args.prefix, args.var / "store.db", args.physicians)
        os.environ.update(drgate_env(args.redis_url, args.prefix, args.var / "store.db"))
        module, factory = APPS[args.app].split(":")
        app = getattr(importlib.import_module(module), factory)()
        claims = make_claims(args.physicians, args.lines, 2000)
        convert = {"v1": lambda c: c.body, "2204": lambda c: as_2204(c).body, "3101": lambda c: as_3101(c).body}
        bodies = [convert[args.path](claim) for claim in claims]
        profile = cProfile.Profile() if args.profile else None
        seconds, cpu = uvloop.run(drive(app, bodies, args.requests, profile, PATHS[args.path]))
    finally:
        if not args.keep:
            cleanup(client, args.prefix, None)
    print(f"{args.app} {PATHS[args.path]}, {args.lines}-line claims: {seconds / args.requests * 1e6:.1f} µs a claim "
          f"({cpu / args.requests * 1e6:.1f} µs of CPU; {args.requests} claims{', profiled' if profile else ''})")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
