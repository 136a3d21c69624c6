"""Load generators: wrk when installed, else a bundled asyncio one; both report the same figures.

Both are closed-loop: ``connections`` keep-alive connections, each sending the next claim as soon
as the previous answer arrived, cycling through the claim bodies.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["LoadResult", "run_load", "wrk_available"]

_WRK_SCRIPT = r"""
local requests = {}
local n = 0
init = function(args)
  for body in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", args[2],
      {["Content-Type"] = "application/json"}, body)
  end
  n = math.random(#requests)
end
request = function()
  n = n % #requests + 1
  return requests[n]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_load(url: str, bodies: Path, *, seconds: float, connections: int, use_wrk: bool | None = None,
             path: str = "/v1/claims/check") -> LoadResult:
    """``POST path`` with the bodies of ``bodies`` (one a line), for ``seconds``."""
    if use_wrk is None:
        use_wrk = wrk_available()
    if use_wrk:
        return _wrk(url, bodies, seconds, connections, path)
    return asyncio.run(_generate(url, bodies.read_bytes().splitlines(), seconds, connections, path))


def _wrk(url: str, bodies: Path, seconds: float, connections: int, path: str) -> LoadResult:
    script = bodies.with_suffix(".lua")
    script.write_text(_WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script),
         url, "--", str(bodies), path],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"WRKJSON (\{.*\})", out)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    r = orjson.loads(match.group(1))
    return LoadResult(r["requests"], r["duration_us"] / 1e6, r["p50_us"] / 1000, r["p99_us"] / 1000, r["errors"],
                      "wrk")


async def _generate(url: str, bodies: list[bytes], seconds: float, connections: int, path: str) -> LoadResult:
    match = re.match(r"http://([^:/]+):(\d+)", url)
    if match is None:
        raise ValueError(f"{url} is not http://host:port")
    host, port = match.group(1), int(match.group(2))
    requests = [
        b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (path.encode(), host.encode(), len(b), b) for b in bodies
    ]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def connection(start: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        n = start
        try:
            while time.perf_counter() < deadline:
                n = (n + 1) % len(requests)
                sent = time.perf_counter()
                writer.write(requests[n])
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - sent)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i * 997) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return LoadResult(len(latencies), elapsed, pct(0.50), pct(0.99), errors, "python")
