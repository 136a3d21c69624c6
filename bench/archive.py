"""The archiver's rate: decisions and lines archived a second, on SQLite and PostgreSQL.

Fills a decision log of its own (prefix ``drgate-bench-archive`` on ``DRGATE_REDIS_URL``) with
``--decisions`` entries of ``--lines`` lines each (3% of lines rejected, with their article; no
grounds rows; the lines of a claim shared out among ``--physicians`` codes, default one a line,
the search index's worst case), then times ``Archiver.run(once=True)`` draining it into a fresh store:
a SQLite file, and a schema of its own in PostgreSQL (``--postgres``).  Nothing of the gateway
runs: this is the archiver alone, to hold beside the gateway's rate in ``make bench``::

    python -m bench.archive --decisions 20000 --lines 20
    python -m bench.archive --decisions 20000 --lines 20 --physicians 3
    python -m bench.archive --decisions 20000 --lines 1 --batch 2000
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from cache.keys import Keys
from gateway.check.core import ClaimResult, DecidedLine
from gateway.decisionlog.archiver import Archiver
from gateway.decisionlog.entries import decision_entry
from rules.store.archive.writes import Archive
from rules.store.scans import Store

__all__ = ["main"]

PREFIX = "drgate-bench-archive"
APPLICATION = "drgate-bench-archive"  # PostgreSQL's application_name: the backends whose CPU is counted
WORKERS = [secrets.token_hex(8) for _ in range(4)]


def _entry(i: int, lines: int, physicians: int = 0) -> bytes:
    rows = []
    for k in range(lines):
        code = f"D330802{(i * 31 + k % (physicians or lines)) % 300_000:06d}"
        if (i + k) % 33 == 0:
            rows.append(DecidedLine(f"{i}-{k}", code, "reject", "suspended", "衢州 第二十一条、第二十二条", None, [],
                                   None))
        else:
            rows.append(DecidedLine(f"{i}-{k}", code, "pass", "ok", None, None, [], None))
    decision = "partial" if any(r.decision == "reject" for r in rows) else "pass"
    # The gateway's ids: 64 random bits a worker process, then its counter (gateway.check.core.decision_id);
    # four workers' claims interleaved.
    decision_id = f"{WORKERS[i % len(WORKERS)]}{i // len(WORKERS):016x}"
    result = ClaimResult(f"C-{i}", decision, decision_id, {"version": 7, "published_at": None}, True, rows)
    return decision_entry(time.time(), result, "v1", "key:0123456789ab", profile="quzhou-2020")


def fill(client: redis.Redis, stream: str, decisions: int, lines: int, physicians: int = 0) -> None:
    client.unlink(stream)
    pipe = client.pipeline(transaction=False)
    for i in range(decisions):
        pipe.xadd(stream, {"d": _entry(i, lines, physicians)})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def run(client: redis.Redis, store_url: str, decisions: int, lines: int, batch: int,
        physicians: int = 0) -> dict[str, Any]:
    stream = Keys(PREFIX).decisions
    fill(client, stream, decisions, lines, physicians)
    store = Store(store_url)
    store.init()
    archiver = Archiver(client, stream, Archive(store.engine), batch=batch, block_ms=0, own_gc=True)  # as the CLI
    server = _server_cpu(store.engine)
    started, cpu = time.perf_counter(), time.process_time()
    stats = archiver.run(once=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_cpu = sum(t - server.get(pid, 0.0) for pid, t in _server_cpu(store.engine).items())
    size = None
    if store.dialect == "sqlite":  # the archive's bytes on disk, indexes included
        store.engine.dispose()
        path = Path(store_url.removeprefix("sqlite:///"))
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    store.dispose()
    client.unlink(stream)
    assert stats.archived == decisions, stats
    return {"dialect": store.dialect, "decisions": decisions, "lines": stats.lines, "seconds": round(seconds, 2),
            "decisions_per_s": round(decisions / seconds), "lines_per_s": round(stats.lines / seconds),
            # the archiver's own CPU (the shared machine's load moves wall time): its rate on a core of its own
            "cpu_seconds": round(cpu, 2), "decisions_per_cpu_s": round(decisions / cpu),
            "lines_per_cpu_s": round(stats.lines / cpu),
            # PostgreSQL: its backends' CPU too, and the rate on two cores of their own (the archiver
            # parses the next batch while the server writes the last: the busier side bounds it)
            **({"server_cpu_seconds": round(server_cpu, 2),
                "lines_per_s_on_own_cores": round(stats.lines / max(cpu, server_cpu))} if server_cpu else {}),
            **({"bytes_per_line": round(size / stats.lines)} if size else {})}


def _server_cpu(engine: sa.engine.Engine) -> dict[int, float]:
    """CPU seconds (user + system, from /proc) of the PostgreSQL backends serving this engine."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as conn:
        pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                            {"n": APPLICATION}).scalars().all()
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a server on another machine: not measured
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--physicians", type=int, default=0, help="distinct physicians a claim (0: one a line)")
    parser.add_argument("--store", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--postgres", default=os.environ.get("DRGATE_BENCH_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    client = redis.Redis.from_url(os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    if args.store != "postgresql":
        with tempfile.TemporaryDirectory() as scratch:
            print(run(client, f"sqlite:///{Path(scratch) / 'archive.db'}", args.decisions, args.lines, args.batch,
                      args.physicians))
    if args.postgres and args.store != "sqlite":
        schema = f"archive_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.postgres else "?"
            print(run(client, f"{args.postgres}{sep}options=-csearch_path%3D{schema}&application_name={APPLICATION}",
                      args.decisions, args.lines, args.batch, args.physicians))
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    client.close()


if __name__ == "__main__":
    main()
