"""What "≥ 0.6× the raw floor" means in microseconds of the app's own work (issue 15's target).

The raw floor (``bench.apps.raw``) is loaded as ``make bench`` loads it (wrk -t1, 32 connections,
one uvicorn worker), then again with a fixed cost added to each request (``bench.apps.spin``:
0, 5, 10, 20 … µs of busy CPU).  Each figure: req/s, its ratio to the bare floor's, and the
worker's CPU a request (from /proc, user and system: the kernel's share grows as the server
slows, since wrk then sleeps between answers and every answer has to wake it).  Rounds are
interleaved; medians of rounds.  The added cost at which the ratio crosses ``--target`` is the
budget: an app whose own work, in process (``python -m bench.asgi``), exceeds the floor's own by
more than that cannot reach the target on this machine, whatever else it does::

    python -m bench.budget                        # 1 and 20 lines, spins 0,5,10,15,20,30 µs
    python -m bench.budget --lines 1 --spins 0,8,16 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import uvloop

from bench.asgi import drive
from bench.loadgen import run_load, wrk_available
from bench.servers import cpu_times, serving
from loadtests.claims import make_claims

__all__ = ["main"]

APP = "bench.apps.spin:create_app"


def _in_process_us(bodies: list[bytes]) -> float:
    """The bare floor's own CPU µs a request, driven in this process (no server)."""
    from bench.apps.raw import create_app

    _, cpu = uvloop.run(drive(create_app(), bodies, 20_000, None))
    return cpu / 20_000 * 1e6


def _crossing(points: list[tuple[float, float]], target: float) -> float | None:
    """The added µs at which the ratio falls to ``target``, linear between the measured points."""
    for (s0, r0), (s1, r1) in zip(points, points[1:], strict=False):
        if r0 >= target >= r1 and r0 != r1:
            return s0 + (r0 - target) * (s1 - s0) / (r0 - r1)
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.budget", description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", default="1,20")
    p.add_argument("--spins", default="0,5,10,15,20,30", help="µs of busy CPU added to each request")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--target", type=float, default=0.6)
    p.add_argument("--port", type=int, default=18710)
    p.add_argument("--var", type=Path, default=Path("var/bench"))
    args = p.parse_args(argv)
    if not wrk_available():
        print("bench.budget needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    sizes = [int(n) for n in args.lines.split(",")]
    spins = sorted(float(s) for s in args.spins.split(","))
    if spins[0] != 0:
        spins.insert(0, 0.0)
    args.var.mkdir(parents=True, exist_ok=True)
    files, own = {}, {}
    for n in sizes:
        batch = make_claims(100_000, n, 2000)
        files[n] = args.var / f"budget-{n}.txt"
        files[n].write_bytes(b"\n".join(c.body for c in batch) + b"\n")
        own[n] = _in_process_us([c.body for c in batch])
    rps: dict[tuple[int, float], list[float]] = {}
    cpu: dict[tuple[int, float], list[float]] = {}
    url = f"http://127.0.0.1:{args.port}"
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for rnd in range(args.rounds):
        for spin in spins:
            env = {"BENCH_SPIN_US": str(spin)}
            with serving("spin", args.port, env, make_claims(1000, 1, 1)[0].body, app_path=APP) as proc:
                for n in sizes:
                    run_load(url, files[n], seconds=args.warmup, connections=args.connections, use_wrk=True)
                    before = sum(cpu_times(proc.pid))
                    r = run_load(url, files[n], seconds=args.duration, connections=args.connections, use_wrk=True)
                    used = sum(cpu_times(proc.pid)) - before
                    rps.setdefault((n, spin), []).append(r.rps)
                    cpu.setdefault((n, spin), []).append(used / max(1, r.requests) * 1e6)
                    print(f"round {rnd + 1} spin {spin:4.0f} µs {n:2} lines: {r.rps:8.0f} req/s "
                          f"{cpu[n, spin][-1]:6.1f} µs CPU a request", flush=True)
    out = [f"Run {started}; `python -m bench.budget {' '.join(argv if argv is not None else sys.argv[1:])}`; "
           f"wrk -t1 -c{args.connections}, {args.duration:.0f} s a figure, "
           f"medians of {args.rounds} interleaved rounds.",
           "", "| lines | added µs | req/s | ÷ floor | worker CPU µs a request |", "|---:|---:|---:|---:|---:|"]
    for n in sizes:
        base = statistics.median(rps[n, 0.0])
        points = []
        for spin in spins:
            med = statistics.median(rps[n, spin])
            points.append((spin, med / base))
            out.append(f"| {n} | {spin:.0f} | {med:,.0f} | {med / base:.2f} | {statistics.median(cpu[n, spin]):.1f} |")
        crossing = _crossing(points, args.target)
        said = f"{crossing:.1f} µs" if crossing is not None else f"beyond {spins[-1]:.0f} µs (not crossed)"
        out.append(f"| {n} | budget for {args.target}× | | | {said} over the floor's own {own[n]:.1f} µs in process |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
