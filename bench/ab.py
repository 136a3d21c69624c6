"""Whole requests A/B in one process: the gateway of a base revision against this tree's.

The load on the shared 2 cores moves every figure by ±30 % from one minute to the next, so two
runs of ``bench.asgi`` cannot tell a 10 % change.  Here both gateways live in one process: the
base revision's ``gateway`` package is exported from git under another name (``gateway_base``;
``cache`` and ``rules`` are this tree's, shared), both apps are built and their lifespans run on
one uvloop (each preloads the snapshot, each decision log writes to Redis), and each ASGI callable
is driven as ``bench.asgi`` drives it, in blocks of requests, base and this tree alternating::

    python -m bench.ab --base 76a2d9f                    # 1 and 20 lines, 60 blocks of 300 each
    python -m bench.ab --base main --lines 20 --rounds 100

Printed: CPU µs a request (process time) as the minimum, 10th percentile and median of the blocks,
and how many answers differ byte for byte between the two (the decision id masked).  The base's
``gateway`` must import this tree's ``cache`` and ``rules`` as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import orjson
import redis
import uvloop

from bench.asgi import PATHS, exchange
from bench.setup import cleanup, prepare_redis
from loadtests.claims import make_claims
from loadtests.nhsa import as_2204, as_3101

__all__ = ["main"]

_IMPORT = re.compile(r"^(\s*)(from|import) gateway([. ])", re.MULTILINE)


def export_base(revision: str, into: Path) -> None:
    """``gateway`` of ``revision`` as the package ``gateway_base`` under ``into``."""
    tar = subprocess.run(["git", "archive", revision, "gateway"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            target = into / member.name.replace("gateway", "gateway_base", 1)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith(".py"):
                data = _IMPORT.sub(r"\1\2 gateway_base\3", data.decode()).encode()
            target.write_bytes(data)


# what differs between two answers to one body: the decision ids (also in an nhsa result's task_id,
# jr_id, jrd_id) and an nhsa envelope's stamps and serial
_DECISION_ID = re.compile(rb"[0-9a-f]{32}")
_STAMPS = re.compile(rb'"inf_refmsgid":"\d+","refmsg_time":"\d+","respond_time":"\d+"')


def _masked(sent: list[dict[str, Any]]) -> tuple[int, bytes]:
    answer = orjson.loads(sent[-1]["body"])
    if isinstance(answer, dict) and "decision_id" in answer:
        answer["decision_id"] = "-"
        return sent[0]["status"], orjson.dumps(answer)
    return sent[0]["status"], _DECISION_ID.sub(b"-", _STAMPS.sub(b"", sent[-1]["body"]))


#: the bench's claims as each path's bodies (as bench.asgi sends them)
_BODIES = {PATHS["v1"]: lambda c: c.body, PATHS["2204"]: lambda c: as_2204(c).body,
           PATHS["3101"]: lambda c: as_3101(c).body}


async def compare(apps: dict[str, Any], sizes: list[int], physicians: int, rounds: int, block: int,
                  path: str) -> None:
    async with apps["base"].router.lifespan_context(apps["base"]), apps["this"].router.lifespan_context(apps["this"]):
        for app in apps.values():
            while not app.state.gateway.cache.complete:
                await asyncio.sleep(0.1)
        for lines in sizes:
            bodies = [_BODIES[path](claim) for claim in make_claims(physicians, lines, 2000)]
            differ = 0
            for body in bodies:  # also the warm-up of both
                base, this = await exchange(apps["base"], body, path), await exchange(apps["this"], body, path)
                differ += _masked(base) != _masked(this)
            times: dict[str, list[float]] = {"base": [], "this": []}
            for r in range(rounds):
                for name in ("base", "this") if r % 2 == 0 else ("this", "base"):
                    cpu = time.process_time()
                    for i in range(block):
                        await exchange(apps[name], bodies[i % len(bodies)], path)
                        if i % 50 == 49:
                            await asyncio.sleep(0)  # the decision log's writer, counted
                    times[name].append((time.process_time() - cpu) / block * 1e6)
                    await asyncio.sleep(0.12)  # each writer flushes outside the other's block
            print(f"{lines} lines: {differ} of {len(bodies)} answers differ (decision id masked)")
            for name, t in times.items():
                print(f"  {name:4s} CPU µs a request: min {min(t):6.1f}  p10 {_p10(t):6.1f}  "
                      f"median {statistics.median(t):6.1f}")
            base, this = times["base"], times["this"]
            print(f"  this/base: min {min(this) / min(base):.3f}  p10 {_p10(this) / _p10(base):.3f}  "
                  f"median {statistics.median(this) / statistics.median(base):.3f}  ({rounds} blocks of {block} each)")


def _p10(t: list[float]) -> float:
    return sorted(t)[len(t) // 10]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="a git revision: its gateway is the A side")
    p.add_argument("--lines", default="1,20")
    p.add_argument("--path", choices=sorted(PATHS), default="v1")
    p.add_argument("--rounds", type=int, default=60, help="blocks per side")
    p.add_argument("--block", type=int, default=300, help="requests a block")
    p.add_argument("--physicians", type=int, default=100_000)
    p.add_argument("--redis-url", default=os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--prefix", default="drgate-bench-ab")
    p.add_argument("--var", type=Path, default=Path("var/bench"))
    args = p.parse_args(argv)
    base_dir = args.var / "ab-base"
    base_dir.mkdir(parents=True, exist_ok=True)
    export_base(args.base, base_dir)
    sys.path.insert(0, str(base_dir.resolve()))
    client = redis.Redis.from_url(args.redis_url)
    try:
        prepare_redis(client, args.prefix, args.var / "ab-store.db", args.physicians)
        os.environ.update({"DRGATE_REDIS_URL": args.redis_url, "DRGATE_REDIS_PREFIX": args.prefix,
                           "DRGATE_STORE_URL": f"sqlite:///{args.var / 'ab-store.db'}", "DRGATE_STALE_AFTER": "1e9"})
        from gateway.app import create_app

        base = importlib.import_module("gateway_base.app")  # exported above: not importable before
        apps = {"base": base.create_app(), "this": create_app()}
        uvloop.run(compare(apps, [int(n) for n in args.lines.split(",")], args.physicians, args.rounds, args.block,
                           PATHS[args.path]))
    finally:
        cleanup(client, args.prefix, None)
    print(f"base {args.base}; load average {os.getloadavg()[0]:.1f}; {time.strftime('%H:%M', time.gmtime())} UTC")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
