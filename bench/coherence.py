"""Coherence: how long a published change takes to reach every gateway worker (target: 1 s).

Two drgate workers (each its own process, as `drgate serve --workers 2` runs them) serve the
bench's snapshot; a physician is suspended in the store and an incremental sync publishes it,
then the suspension is revoked and published again; the delay is from the sync's return (its
publication is the last thing it does) until both workers answer the new decision.  Then the
same through a full sync (a new generation: each worker preloads it anew).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import orjson
import redis

from bench.servers import post, serving
from cache.keys import Keys
from cache.sync import Syncer
from rules.profiles import load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.seed import expected_reason, institution_code, physician_code

__all__ = ["measure"]


def _reason(port: int, code: str, site: str) -> str:
    claim = {"claim_id": "coherence", "institution_code": site, "service_date": "2026-03-02",
             "lines": [{"line_id": "1", "physician_code": code}]}
    return str(orjson.loads(post(port, orjson.dumps(claim))[1])["lines"][0]["reason"])


def _delay(ports: list[int], code: str, site: str, reason: str) -> float:
    started = time.perf_counter()
    pending = set(ports)
    while pending:
        pending = {p for p in pending if _reason(p, code, site) != reason}
        if time.perf_counter() - started > 30:
            raise RuntimeError(f"workers {pending} never answered {reason}")
    return time.perf_counter() - started


def measure(port: int, env: dict[str, str], store_path: Path, physicians: int, redis_url: str, prefix: str,
            probe: bytes, rounds: int = 5) -> list[str]:
    profile = load_profile("quzhou-2020")
    store = Store(f"sqlite:///{store_path}")
    syncer = Syncer(redis.Redis.from_url(redis_url), Keys(prefix), store, profile)
    i = next(i for i in range(physicians // 2, physicians) if expected_reason(i) == "ok")
    code, site = physician_code(i), institution_code(i // 200)
    incremental: list[float] = []
    full: list[float] = []
    ports = [port, port + 1]
    with tempfile.TemporaryDirectory() as tmp, serving("drgate", ports[0], env, probe), \
            serving("drgate", ports[1], env, probe):
        def publish(rows: list[dict[str, object]], mode: str) -> float:
            path = Path(tmp) / f"change-{time.monotonic_ns()}.jsonl"
            path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
            import_files(store, profile, [path])
            with syncer.lock(wait=30):
                syncer.full(allow_shrink=True) if mode == "full" else syncer.incremental()
            return time.perf_counter()

        stamp = time.monotonic_ns()
        for n in range(rounds):
            sid = f"S-bench-{stamp}-{n}"
            publish([{"kind": "sanction", "id": sid, "physician_code": code, "action": "suspend",
                      "start": "2026-01-01", "end": None, "basis": "bench"}], "incremental")
            incremental.append(_delay(ports, code, site, "suspended"))
            publish([{"kind": "revocation", "target_id": sid, "revoked_on": "2026-01-02", "reason": "bench"}],
                    "incremental")
            incremental.append(_delay(ports, code, site, "ok"))
        sid = f"S-bench-{stamp}-full"
        publish([{"kind": "sanction", "id": sid, "physician_code": code, "action": "suspend",
                  "start": "2026-01-01", "end": None, "basis": "bench"}], "full")
        full.append(_delay(ports, code, site, "suspended"))
        publish([{"kind": "revocation", "target_id": sid, "revoked_on": "2026-01-02", "reason": "bench"}], "full")
        full.append(_delay(ports, code, site, "ok"))
    store.dispose()
    return ["", "Coherence, two workers (`DRGATE_POLL_INTERVAL` 0.5 s), delay from the sync's publication until "
            "both answer the new decision:", "",
            f"- incremental sync ({len(incremental)} changes): median {statistics.median(incremental) * 1000:.0f} ms, "
            f"max {max(incremental) * 1000:.0f} ms",
            f"- full sync ({len(full)} changes, a new generation): "
            + ", ".join(f"{d * 1000:.0f} ms" for d in full)]
