"""The step profile of ``make loadtest PROFILE=step``: ramp, plateau, spike, and the knee it finds.

Loaded beside the locustfile (``locust -f loadtests/locustfile.py,loadtests/steps.py``), so the
constant profile (``--users``, ``--run-time``) stays the default.  Stages, each timed by
``LOADTEST_STEP_SECONDS`` (default 30):

    ramp      LOADTEST_STEP_USERS (default 10) more users a stage, LOADTEST_STEPS stages (default 5)
    plateau   the top of the ramp, for two stages
    spike     twice the top, for one stage
    recovery  the top again, for one stage

Every answer is counted in the stage it arrived in; at the end each stage's request rate and p99
are written to ``<csv prefix>_steps.csv`` and logged, with the knee: the request rate of the
first stage, in order of rate, whose p99 passed ``LOADTEST_P99_MS`` (none if no stage did).
"""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locust import LoadTestShape, events
from locust.env import Environment

__all__ = ["Stage", "StepShape", "knee", "plan"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Stage:
    name: str
    users: int
    seconds: float
    times: list[float] = field(default_factory=list)  # ms, each answer's
    failures: int = 0
    started: float = 0.0
    ended: float = 0.0

    @property
    def rate(self) -> float:
        elapsed = (self.ended or time.monotonic()) - self.started
        return len(self.times) / elapsed if elapsed > 0 else 0.0

    @property
    def p99(self) -> float:
        if not self.times:
            return 0.0
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def plan(step_users: int, steps: int, seconds: float) -> list[Stage]:
    top = step_users * steps
    stages = [Stage(f"ramp {k}", step_users * k, seconds) for k in range(1, steps + 1)]
    return [*stages, Stage("plateau", top, 2 * seconds), Stage("spike", 2 * top, seconds),
            Stage("recovery", top, seconds)]


def knee(stages: list[Stage], p99_ms: float) -> Stage | None:
    """The stage of lowest request rate whose p99 passed ``p99_ms``, if any."""
    over = [s for s in stages if s.times and s.p99 > p99_ms]
    return min(over, key=lambda s: s.rate) if over else None


STAGES = plan(int(os.environ.get("LOADTEST_STEP_USERS", "10")), int(os.environ.get("LOADTEST_STEPS", "5")),
              float(os.environ.get("LOADTEST_STEP_SECONDS", "30")))
_current: list[int] = [0]


class StepShape(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for index, stage in enumerate(STAGES):
            if elapsed < stage.seconds:
                _switch(index)
                return stage.users, float(stage.users)  # reach each stage's users within a second
            elapsed -= stage.seconds
        _switch(len(STAGES))
        return None


def _switch(index: int) -> None:
    now = time.monotonic()
    if index == _current[0] and STAGES[0].started:
        return
    if _current[0] < len(STAGES) and STAGES[_current[0]].started:
        STAGES[_current[0]].ended = now
    _current[0] = index
    if index < len(STAGES):
        STAGES[index].started = now


@events.request.add_listener
def _count(response_time: float, exception: BaseException | None, **_: Any) -> None:
    index = _current[0]
    if index < len(STAGES) and STAGES[index].started:
        STAGES[index].times.append(response_time)
        if exception is not None:
            STAGES[index].failures += 1


@events.quitting.add_listener
def _report(environment: Environment, **_: Any) -> None:
    _switch(len(STAGES))
    bound = float(os.environ.get("LOADTEST_P99_MS", "0") or 0)
    prefix = getattr(environment.parsed_options, "csv_prefix", None) or "var/loadtest/drgate"
    path = Path(f"{prefix}_steps.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["stage", "users", "requests", "failures", "requests_per_s", "p99_ms"])
        for s in STAGES:
            writer.writerow([s.name, s.users, len(s.times), s.failures, f"{s.rate:.1f}", f"{s.p99:.2f}"])
            log.info("stage %-9s %4d users: %7d requests, %8.1f req/s, p99 %7.2f ms, %d failures", s.name, s.users,
                     len(s.times), s.rate, s.p99, s.failures)
    found = knee(STAGES, bound) if bound else None
    if found is not None:
        log.info("knee: p99 passed %g ms at %.1f req/s (stage %s, %d users); steps in %s", bound, found.rate,
                 found.name, found.users, path)
    else:
        top = max((s.rate for s in STAGES), default=0.0)
        log.info("knee: none; p99 stayed within %g ms up to %.1f req/s; steps in %s", bound, top, path)
