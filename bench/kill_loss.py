"""What a SIGKILL of a gateway worker still loses of the decision log, with Redis up and down.

A gateway (``drgate serve``, one worker) on a redis-server of its own answers claims from one
client as fast as it can; after ``--seconds`` it is SIGKILLed mid-load, Redis is (re)started, a
new worker replays the spool, and the answered decision ids missing from the stream are counted::

    python -m bench.kill_loss --seconds 3 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import redis

from cache.keys import Keys
from cache.sync import Syncer
from rules.profiles import load_profile
from rules.store.scans import Store
from rules.store.seed import home_institution, institution_code, physician_code, seed
from tests.fault_servers import Gateway, RedisServer

PREFIX = "drgate-kill-loss"


def _round(workdir: Path, seconds: float, outage: bool) -> tuple[int, int]:
    server = RedisServer(workdir / "redis")
    server.start()
    store = Store(f"sqlite:///{workdir / 'store.db'}")
    store.init()
    seed(store, 200)
    keys = Keys(PREFIX)
    client = redis.Redis.from_url(server.url)
    Syncer(client, keys, store, load_profile("quzhou-2020")).full()
    env = {"DRGATE_REDIS_URL": server.url, "DRGATE_REDIS_PREFIX": PREFIX, "DRGATE_STORE_URL": store.url,
           "DRGATE_VAR_DIR": str(workdir / "var")}
    gateway = Gateway(env)
    answered: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=gateway.url, timeout=2) as http:
            n = 0
            while not stop.is_set():
                line = {"line_id": "1", "physician_code": physician_code(n % 200)}
                body = {"claim_id": f"C-{n}", "institution_code": institution_code(home_institution(n % 200)),
                        "service_date": "2026-03-02", "lines": [line]}
                try:
                    answered.append(http.post("/v1/claims/check", json=body).json()["decision_id"])
                except httpx.HTTPError:
                    return
                n += 1

    thread = threading.Thread(target=load)
    thread.start()
    if outage:
        time.sleep(0.5)
        server.kill()
    time.sleep(seconds)
    gateway.process.kill()
    gateway.process.wait()
    gateway.log.close()
    stop.set()
    thread.join()
    if outage:
        server.start()
    replay = Gateway(env)
    time.sleep(1.0)
    replay.stop()
    logged = {orjson.loads(f[b"d"])["id"] for _, f in client.xrange(keys.decisions)}
    client.close()
    server.stop()
    store.dispose()
    return len(answered), len(set(answered) - logged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for outage in (False, True):
        losses, totals = [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as scratch:
                total, lost = _round(Path(scratch), args.seconds, outage)
            totals.append(total)
            losses.append(lost)
        rate = statistics.mean(totals) / args.seconds
        print(f"redis {'down' if outage else 'up'}: answered {totals}, lost {losses} "
              f"(max {max(losses)}, ~{rate:.0f} answers/s: {1000 * max(losses) / rate:.0f} ms of answers)")


if __name__ == "__main__":
    main()
