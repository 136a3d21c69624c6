"""`drgate serve` of two source trees under the same wrk load, alternated: what a change bought.

``bench.ab`` compares two gateways' own CPU in one process; this compares them served, as
``make bench`` loads drgate (wrk -t1, 32 connections, one worker), where the server's and the
kernel's shares count too.  The base tree is a checkout of the base revision (``git worktree add
--detach ../base main``); both run with this interpreter, each from its own directory.  Printed for
each tree and claim size: median req/s and p99 over the rounds, and the worker's user and system
CPU µs a request (from /proc)::

    python -m bench.served_ab --base ../base            # 1 and 20 lines, 2 rounds of 8 s
    python -m bench.served_ab --base ../base --env DRGATE_COALESCE_WRITES=false --lines 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import redis

from bench.loadgen import run_load, wrk_available
from bench.servers import cpu_times, serving
from bench.setup import cleanup, drgate_env, prepare_redis
from loadtests.claims import make_claims

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.served_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--base", type=Path, required=True, help="the base revision's source tree")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the base only")
    p.add_argument("--lines", default="1,20")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--physicians", type=int, default=100_000)
    p.add_argument("--port", type=int, default=18760)
    p.add_argument("--redis-url", default=os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--prefix", default="drgate-bench-ab")
    p.add_argument("--var", type=Path, default=Path("var/bench-ab"))
    args = p.parse_args(argv)
    if not wrk_available():
        print("bench.served_ab needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    args.var.mkdir(parents=True, exist_ok=True)
    client = redis.Redis.from_url(args.redis_url)
    trees = {"base": args.base.resolve(), "this": Path.cwd()}
    extra = {"base": dict(e.split("=", 1) for e in args.env), "this": {}}
    figures: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    try:
        prepare_redis(client, args.prefix, args.var / "store.db", args.physicians)
        env = drgate_env(args.redis_url, args.prefix, args.var / "store.db")
        files = {}
        for n in (int(x) for x in args.lines.split(",")):
            files[n] = args.var / f"claims-{n}.txt"
            files[n].write_bytes(b"\n".join(c.body for c in make_claims(args.physicians, n, 2000)) + b"\n")
        for rnd in range(args.rounds):
            for name, tree in trees.items():
                for n, bodies in files.items():
                    probe = bodies.read_bytes().split(b"\n", 1)[0]
                    with serving("drgate", args.port, {**env, **extra[name]}, probe, cwd=tree) as proc:
                        url = f"http://127.0.0.1:{args.port}"
                        run_load(url, bodies, seconds=2, connections=32, use_wrk=True)
                        u0, s0 = cpu_times(proc.pid)
                        r = run_load(url, bodies, seconds=args.duration, connections=32, use_wrk=True)
                        u1, s1 = cpu_times(proc.pid)
                    done = max(1, r.requests)
                    figures.setdefault((name, n), []).append((r.rps, r.p99_ms, 1e6 * (u1 - u0) / done,
                                                              1e6 * (s1 - s0) / done))
                    print(f"round {rnd + 1} {name:4} {n:2} lines: {r.rps:8,.0f} req/s  p99 {r.p99_ms:5.2f} ms  "
                          f"user {1e6 * (u1 - u0) / done:5.1f} µs  sys {1e6 * (s1 - s0) / done:5.1f} µs", flush=True)
    finally:
        cleanup(client, args.prefix, None)
    print("\n| tree | lines | req/s | p99 ms | user µs a request | system µs a request |")
    print("|---|---:|---:|---:|---:|---:|")
    for (name, n), rows in sorted(figures.items(), key=lambda item: (item[0][1], item[0][0])):
        med = [statistics.median(row[i] for row in rows) for i in range(4)]
        print(f"| {name} | {n} | {med[0]:,.0f} | {med[1]:.2f} | {med[2]:.1f} | {med[3]:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
