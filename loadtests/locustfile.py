"""Load test of a (staging) gateway: the seeded claim mix, every answer checked against the truth.

Seed the staging store first (``drgate seed --physicians N`` then ``drgate sync --full``); the
locustfile reads N from the gateway (``/readyz``: the published snapshot's physician count), so
each claim's expected decision is known (``loadtests.claims``) and a wrong decision counts as a
failure, not only an error status.  ``make loadtest`` runs it headless:

    make loadtest HOST=http://staging:8000 USERS=50 DURATION=60s P99_MS=50 MAX_FAIL=0.001
    make loadtest HOST=http://staging:8000 PROFILE=step P99_MS=50      # ramp, plateau, spike: the knee

Environment: ``LOADTEST_PHYSICIANS`` (optional: the seeded count, checked against the gateway's;
a mismatch stops the run with exit 2), ``LOADTEST_API_KEY`` (sent as ``X-API-Key`` when the gateway
has ``DRGATE_API_KEYS``), ``LOADTEST_LINES`` (claim sizes drawn from, default ``1,20``),
``LOADTEST_NHSA`` (share of the national platform's transactions, 2204 uploads and 3101 order
checks of the same claims, answers checked too; default 0.3), ``LOADTEST_P99_MS`` and
``LOADTEST_MAX_FAIL`` (the gate: exit 1 when the p99 of all checks or their failure ratio passes
its bound, else 0; the step profile gates on the failure ratio only, its p99 is what the knee
reports, ``loadtests.steps``).  Exit 2: the run could not start (gateway unreachable, not ready, or
seeded with another count).
"""

from __future__ import annotations

import logging
import os
import random
import urllib.request
from typing import Any

import orjson
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from loadtests.claims import Claim, make_claims, wrong_lines
from loadtests.nhsa import NhsaCall, as_2204, as_3101, wrong_answer

log = logging.getLogger(__name__)

SIZES = [int(n) for n in os.environ.get("LOADTEST_LINES", "1,20").split(",")]
NHSA_SHARE = float(os.environ.get("LOADTEST_NHSA", "0.3"))
CLAIMS: dict[int, list[Claim]] = {}
CALLS: dict[tuple[str, int], list[NhsaCall]] = {}
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("LOADTEST_API_KEY"):
    HEADERS["X-API-Key"] = os.environ["LOADTEST_API_KEY"]


def claims(size: int) -> list[Claim]:
    return CLAIMS[size]  # built by _prepare, once per process


def seeded_physicians(host: str) -> int:
    """The physician count of the snapshot the gateway at ``host`` holds (``/readyz``)."""
    with urllib.request.urlopen(f"{host.rstrip('/')}/readyz", timeout=10) as answer:  # noqa: S310 (the operator's host)
        ready = orjson.loads(answer.read())
    return int(ready["snapshot"]["physicians"])


def calls(infno: str, size: int) -> list[NhsaCall]:
    if (infno, size) not in CALLS:
        convert = as_2204 if infno == "2204" else as_3101
        CALLS[infno, size] = [convert(claim) for claim in claims(size)]
    return CALLS[infno, size]


@events.init.add_listener
def _prepare(environment: Environment, **_: Any) -> None:
    """Before the clock starts: the seeded count from the gateway, then the claims built once."""
    if environment.host is None:
        log.error("load test: no --host given")
        raise SystemExit(2)
    try:
        physicians = seeded_physicians(environment.host)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("load test: cannot read the seeded physician count from %s/readyz (%s); is the gateway up "
                  "and ready?", environment.host, exc)
        raise SystemExit(2) from None
    given = os.environ.get("LOADTEST_PHYSICIANS")
    if given and int(given) != physicians:
        log.error("load test: LOADTEST_PHYSICIANS=%s but the gateway's snapshot has %d physicians; every "
                  "answer would be judged against the wrong seed", given, physicians)
        raise SystemExit(2)
    log.info("load test: %d physicians seeded (from %s/readyz)", physicians, environment.host)
    for size in SIZES:
        CLAIMS[size] = make_claims(physicians, size, 5000, seed=7)
        if NHSA_SHARE > 0:
            calls("2204", size)
            calls("3101", size)


class SettlementGateway(FastHttpUser):
    """One settlement client: posts claims back to back, as the settlement pipeline does."""

    wait_time = between(0, 0.01)

    @task
    def check(self) -> None:
        if NHSA_SHARE > 0 and random.random() < NHSA_SHARE:
            self.nhsa(random.choice(("2204", "3101")))
            return
        size = random.choice(SIZES)
        claim = random.choice(claims(size))
        with self.client.post("/v1/claims/check", data=claim.body, headers=HEADERS,
                              name=f"/v1/claims/check [{size} lines]", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            try:
                answer: Any = orjson.loads(response.content or b"")
            except orjson.JSONDecodeError:
                response.failure("answer is not JSON")
                return
            problems = wrong_lines(claim, answer)
            if problems:
                response.failure("wrong decision: " + "; ".join(problems[:3]))


    def nhsa(self, infno: str) -> None:
        """A 2204 upload or a 3101 check of a seeded claim: HTTP 200, and the rejected lines named."""
        size = random.choice(SIZES)
        call = random.choice(calls(infno, size))
        with self.client.post(f"/nhsa/{infno}", data=call.body, headers=HEADERS,
                              name=f"/nhsa/{infno} [{size} lines]", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            try:
                answer: Any = orjson.loads(response.content or b"")
            except orjson.JSONDecodeError:
                response.failure("answer is not JSON")
                return
            problem = wrong_answer(call, answer)
            if problem:
                response.failure("wrong answer: " + problem)


@events.quitting.add_listener
def _gate(environment: Environment, **_: Any) -> None:
    """Exit 1 when the p99 or the failure ratio passes its bound, else 0 (failures within the bound
    included: locust alone would exit 1 on any)."""
    total = environment.stats.total
    p99_ms = float(os.environ.get("LOADTEST_P99_MS", "0") or 0)
    max_fail = float(os.environ.get("LOADTEST_MAX_FAIL", "-1") or -1)
    step = os.environ.get("LOADTEST_PROFILE") == "step"
    p99 = total.get_response_time_percentile(0.99) or 0.0
    ratio = total.fail_ratio
    reasons = []
    if total.num_requests == 0:
        reasons.append("no request was answered")
    if p99_ms and p99 > p99_ms and not step:
        reasons.append(f"p99 {p99:.1f} ms > {p99_ms:g} ms")
    if max_fail >= 0 and ratio > max_fail:
        reasons.append(f"failure ratio {ratio:.4%} > {max_fail:.4%}")
    if reasons:
        log.error("load test gate failed: %s", "; ".join(reasons))
        environment.process_exit_code = 1
    else:
        log.info("load test gate passed: %d requests, p99 %.1f ms, failure ratio %.4f%%", total.num_requests, p99,
                 ratio * 100)
        if not environment.runner or not environment.runner.exceptions:  # a bug in this file keeps locust's code
            environment.process_exit_code = 0
