"""`make bench`: the designs side by side, one after another, same server settings, same load.

    python -m bench.run [--physicians 300000] [--duration 8] [--rounds 3] [--connections 32]

Seeds a store of ``--physicians`` (SQLite for drgate and the naive copy, PostgreSQL for the SQL
design), then for each round and each app: start it (uvicorn, one worker, uvloop, httptools),
check a sample of its answers against the seeded truth, warm it up, load it with claims of 1 and
of 20 lines (wrk, or the bundled generator); drgate also with the same claims as the national
platform's 2204 uploads and 3101 order checks (``--paths``).  Figures are medians over rounds,
and ratios to the raw ASGI floor (``bench.apps.raw``) and to the FastAPI floor measured in the
same run: the machine is shared, absolute numbers drift.  Each figure carries the machine's
1-minute load average while it was taken (the other load on the shared cores).  Then the
coherence delay, the in-process checker's speed and (``--scale``) the 1,000,000-physician figures.
Results go to stdout and to BENCHMARKS.md between its generated-section markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import redis

from bench import coherence, inprocess, scale
from bench.loadgen import LoadResult, run_load, wrk_available
from bench.servers import APPS, post, serving
from bench.setup import cleanup, drgate_env, prepare_postgres, prepare_redis
from loadtests.claims import Claim, make_claims, wrong_lines
from loadtests.nhsa import as_2204, as_3101, wrong_answer

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

#: The national platform's transactions drgate is also loaded with: name -> (path, claim -> call).
NHSA = {"2204": ("/nhsa/2204", as_2204), "3101": ("/nhsa/3101", as_3101)}
V1 = "/v1/claims/check"


def label(app: str, path: str) -> str:
    """A row of the table: the app, and for drgate's national fronts the transaction."""
    return app if path == "v1" else f"{app} {NHSA[path][0]}"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Linux {platform.release()}, Python {platform.python_version()}"


def check_answers(app: str, port: int, claims: list[Claim], path: str = "v1") -> str:
    if app in ("raw", "raw-front", "floor"):
        return "n/a (answers without lookup)"
    wrong = 0
    for claim in claims:
        if path == "v1":
            status, body = post(port, claim.body)
            wrong += status != 200 or bool(wrong_lines(claim, orjson.loads(body)))
        else:
            route, convert = NHSA[path]
            call = convert(claim)
            status, body = post(port, call.body, route)
            wrong += status != 200 or wrong_answer(call, orjson.loads(body)) is not None
    return f"{len(claims) - wrong}/{len(claims)} right"


def load_average() -> float:
    return os.getloadavg()[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--physicians", type=int, default=300_000)
    p.add_argument("--duration", type=float, default=8.0, help="seconds of load per app and claim size")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--lines", default="1,20")
    p.add_argument("--apps", default=",".join(APPS))
    p.add_argument("--paths", default="v1,2204,3101",
                   help="drgate's fronts to load: v1, and 2204 / 3101 (the same claims as the platform's)")
    p.add_argument("--port", type=int, default=18700)
    p.add_argument("--redis-url", default=os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_ADMIN_URL",
                                                            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--prefix", default="drgate-bench")
    p.add_argument("--var", type=Path, default=Path("var/bench"))
    p.add_argument("--python-load", action="store_true", help="use the bundled generator even if wrk is there")
    p.add_argument("--scale", action="store_true", help="also the 1,000,000-physician figures (~2 min)")
    p.add_argument("--keep", action="store_true", help="keep the bench's Redis keys and database")
    p.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = p.parse_args(argv)
    apps = args.apps.split(",")
    sizes = [int(n) for n in args.lines.split(",")]
    paths = [x for x in args.paths.split(",") if x]
    args.var.mkdir(parents=True, exist_ok=True)
    client = redis.Redis.from_url(args.redis_url)
    started = datetime.now(UTC)
    report: list[str] = []
    try:
        print(f"preparing {args.physicians} physicians …", flush=True)
        timings = prepare_redis(client, args.prefix, args.var / "store.db", args.physicians)
        pg_url = prepare_postgres(args.postgres_url, args.physicians) if "sql" in apps else ""
        env = {**drgate_env(args.redis_url, args.prefix, args.var / "store.db"),
               "BENCH_POSTGRES_URL": pg_url.replace("postgresql+psycopg://", "postgresql://")}
        claims = {n: make_claims(args.physicians, n, 2000) for n in sizes}
        files: dict[tuple[str, int], Path] = {}
        for n, batch in claims.items():
            for path in ["v1", *(x for x in paths if x != "v1")]:
                files[path, n] = args.var / f"claims-{path}-{n}.txt"
                bodies = [c.body if path == "v1" else NHSA[path][1](c).body for c in batch]
                files[path, n].write_bytes(b"\n".join(bodies) + b"\n")
        use_wrk = wrk_available() and not args.python_load
        results: dict[tuple[str, int], list[LoadResult]] = {}
        loads: dict[tuple[str, int], list[float]] = {}
        correctness: dict[str, str] = {}
        rows = [label(app, path) for app in apps for path in (paths if app == "drgate" else ["v1"])]
        for rnd in range(args.rounds):
            for app in apps:
                with serving(app, args.port, env, claims[sizes[0]][0].body):
                    for path in paths if app == "drgate" else ["v1"]:
                        name = label(app, path)
                        if rnd == 0:
                            correctness[name] = check_answers(app, args.port,
                                                              [c for n in sizes for c in claims[n][:100]], path)
                        for n in sizes:
                            url = f"http://127.0.0.1:{args.port}"
                            route = V1 if path == "v1" else NHSA[path][0]
                            run_load(url, files[path, n], seconds=args.warmup, connections=args.connections,
                                     use_wrk=use_wrk, path=route)
                            r = run_load(url, files[path, n], seconds=args.duration, connections=args.connections,
                                         use_wrk=use_wrk, path=route)
                            results.setdefault((name, n), []).append(r)
                            loads.setdefault((name, n), []).append(load_average())
                            print(f"round {rnd + 1} {name:17} {n:2} lines: {r.rps:8.0f} req/s  p50 {r.p50_ms:6.2f} ms"
                                  f"  p99 {r.p99_ms:6.2f} ms  errors {r.errors}  load {load_average():.1f}",
                                  flush=True)
        report += table(results, loads, rows, sizes, correctness, args, use_wrk)
        if "drgate" in apps:
            print("coherence …", flush=True)
            report += coherence.measure(args.port, env, args.var / "store.db", args.physicians, args.redis_url,
                                        args.prefix, claims[sizes[0]][0].body)
        print("in-process checker …", flush=True)
        report += inprocess.measure()
        if args.scale:
            print("scale (1,000,000 physicians) …", flush=True)
            report += scale.measure(args.var)
        report += ["", f"Preparation: {', '.join(f'{k} {v:.1f}' for k, v in timings.items())}."]
    finally:
        if not args.keep:
            cleanup(client, args.prefix, args.postgres_url if "sql" in apps else None)
    header = [
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"Command: `python -m bench.run {' '.join(argv if argv is not None else sys.argv[1:])}` "
        f"(`make bench`); took {(datetime.now(UTC) - started).total_seconds() / 60:.1f} min.",
        "",
    ]
    text = "\n".join(header + report)
    print(text)
    write_section(args.out, text)
    return 0


def table(results: dict[tuple[str, int], list[LoadResult]], loads: dict[tuple[str, int], list[float]],
          rows: list[str], sizes: list[int], correctness: dict[str, str], args: argparse.Namespace,
          use_wrk: bool) -> list[str]:
    def med(name: str, n: int, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in results[(name, n)])

    def ratio(name: str, n: int, floor: str, attr: str) -> str:
        return f"{med(name, n, attr) / med(floor, n, attr):.2f}" if floor in rows else "–"

    def ratios(name: str, n: int, attr: str) -> str:
        """To the raw floor on the uvicorn command line, and (after /) to the raw floor on drgate's front."""
        return f"{ratio(name, n, 'raw', attr)} / {ratio(name, n, 'raw-front', attr)}"

    out = [
        f"Load: {'wrk -t1' if use_wrk else 'bundled Python generator'}, {args.connections} connections, "
        f"{args.duration:g} s per app and size after {args.warmup:g} s warm-up, {args.rounds} rounds "
        f"(apps interleaved), median of rounds; {args.physicians:,} physicians seeded. `raw`: the raw ASGI floor "
        "(`bench/apps/raw.py`) on the uvicorn command line, `raw-front`: the same app on drgate's front "
        "(`bench/front.py`: the front's limits, responses of a loop's turn written together), `floor`: the raw "
        "floor's work through FastAPI; `drgate`: `drgate serve`, `drgate-direct`: the same with each response "
        "written at once (`DRGATE_COALESCE_WRITES=false`). Ratios are to `raw` / to `raw-front`. drgate's "
        "`/nhsa/` rows carry the same claims as 2204 uploads and 3101 order checks, against the raw floor's "
        "`/v1` figures. load: the 1-minute "
        "load average as each figure was taken (median of rounds; other sessions share the 2 cores).",
        "",
        "| app | lines | req/s | lines/s | p50 ms | p99 ms | req/s ÷ raw / raw-front | p99 ÷ raw / raw-front | "
        "req/s ÷ FastAPI floor | "
        "errors | load | answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n in sizes:
        for name in rows:
            rps, p50, p99 = med(name, n, "rps"), med(name, n, "p50_ms"), med(name, n, "p99_ms")
            errors = sum(r.errors for r in results[(name, n)])
            out.append(f"| {name} | {n} | {rps:,.0f} | {rps * n:,.0f} | {p50:.2f} | {p99:.2f} | "
                       f"{ratios(name, n, 'rps')} | {ratios(name, n, 'p99_ms')} | "
                       f"{ratio(name, n, 'floor', 'rps')} | {errors} | {statistics.median(loads[(name, n)]):.1f} | "
                       f"{correctness.get(name, '')} |")
    if {"drgate", "naive"} <= set(rows):
        for n in sizes:
            out.append(f"\ndrgate ÷ naive at {n} line(s): {med('drgate', n, 'rps') / med('naive', n, 'rps'):.1f}×")
    out.append("\nPer round (req/s @ load): " + "; ".join(
        f"{name}/{n}: " + ", ".join(f"{r.rps:,.0f} @ {load:.1f}" for r, load in zip(results[(name, n)],
                                                                                   loads[(name, n)], strict=True))
        for n in sizes for name in rows))
    return out


def write_section(path: Path, text: str) -> None:
    block = f"{BEGIN}\n{text}\n{END}"
    if path.exists():
        current = path.read_text()
        if BEGIN in current and END in current:
            head, rest = current.split(BEGIN, 1)
            path.write_text(head + block + rest.split(END, 1)[1])
            return
        path.write_text(current.rstrip() + "\n\n" + block + "\n")
        return
    path.write_text(f"# Benchmarks\n\n{block}\n")


if __name__ == "__main__":
    time.sleep(0)
    raise SystemExit(main())
