"""Start and stop one app of the benchmark: uvicorn, one worker, uvloop and httptools, no access log.

drgate runs as it is served, by `drgate serve` (uvicorn with drgate's front: its limits, and the
responses of a loop's turn written together, ``gateway.api.front``); ``drgate-direct`` the same with
each response written at once (``DRGATE_COALESCE_WRITES=false``), to show what that buys.  The other
apps run on the uvicorn command line, and ``raw-front`` is the raw floor on drgate's front
(``bench.front``): the floor for the front's own share.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

__all__ = ["APPS", "FRONT", "cpu_times", "is_drgate", "post", "serving"]

#: App name -> its factory (``module:function``).
APPS: dict[str, str] = {
    "raw": "bench.apps.raw:create_app",
    "raw-front": "bench.apps.raw:create_app",
    "floor": "bench.apps.floor:create_app",
    "naive": "bench.apps.naive:create_app",
    "sql": "bench.apps.sql:create_app",
    "drgate": "gateway.app:create_app",
    "drgate-direct": "gateway.app:create_app",
}
#: Apps served by drgate's front, and the settings they add.
FRONT: dict[str, dict[str, str]] = {"raw-front": {}, "drgate": {},
                                    "drgate-direct": {"DRGATE_COALESCE_WRITES": "false"}}


def is_drgate(app: str) -> bool:
    return app.startswith("drgate")


def post(port: int, body: bytes, path: str = "/v1/claims/check") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _drgate_warm(port: int) -> bool:
    """drgate is ready when its worker holds the whole snapshot (what a long-running worker has)."""
    status, body = get(port, "/readyz")
    if status != 200:
        return False
    snapshot = orjson.loads(body).get("snapshot") or {}
    return bool(snapshot.get("complete", True))


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` so far (a one-worker server serves in-process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / 100, int(fields[12]) / 100  # utime, stime in clock ticks (USER_HZ 100)


@contextmanager
def serving(app: str, port: int, env: dict[str, str], probe: bytes, *, workers: int = 1,
            timeout: float = 120.0, app_path: str | None = None,
            cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``app`` (a name of ``APPS``, or any name with its factory as ``app_path``) served as the module
    says, answering and (drgate) warm; ``cwd``: the source tree to run it from (this one by default)."""
    if is_drgate(app) and app_path is None:
        cmd = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    elif app in FRONT:
        cmd = [sys.executable, "-m", "bench.front", APPS[app], "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "uvicorn", app_path or APPS[app], "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env, **FRONT.get(app, {})}, cwd=cwd, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{app} exited with {proc.returncode} before answering")
            try:
                if post(port, probe)[0] == 200 and (not is_drgate(app) or _drgate_warm(port)):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not answer within {timeout:.0f}s")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
