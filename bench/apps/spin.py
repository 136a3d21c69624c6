"""The raw ASGI floor (``bench.apps.raw``) with a fixed cost added to every request: ``BENCH_SPIN_US``
microseconds of busy CPU before the floor's own work.

What it is for (``bench.budget``): under wrk on these 2 cores a server's CPU a request grows by
more than the work it adds (a slower server finds the load generator asleep more often, and
waking it costs the kernel), so a throughput target against the floor, "0.6× the raw floor",
is a budget of in-process microseconds that only a measured curve can give.  The spin stands for
that work: it reads the clock until the time has passed, touching no memory of its own.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.apps.raw import create_app as create_raw

__all__ = ["create_app"]


def create_app() -> Any:
    floor = create_raw()
    spin = float(os.environ.get("BENCH_SPIN_US", "0")) / 1e6
    clock = time.perf_counter

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if spin and scope["type"] == "http":
            until = clock() + spin
            while clock() < until:
                pass
        await floor(scope, receive, send)

    return app
