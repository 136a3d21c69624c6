"""A gateway never quotes another city's regulation: a snapshot computed for another profile is
refused.  ``/readyz`` is 503 naming both profiles, lines are `unverified` under the fail policy,
a metric shows it; the in-process ``Checker`` does the same."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.checker import Checker
from gateway.settings import Settings
from tests.claims import claim, publish_demo

DEMO_SUSPENDED = "D330802000002"


def configured_for(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(update={"profile": "suzhou-2021-draft", **update})


@pytest.mark.parametrize("policy", ["fail_open", "fail_closed"])
def test_a_gateway_of_another_profile_is_not_ready_and_answers_unverified(
    settings: Settings, tmp_path: Path, redis: redis.Redis, policy: str
) -> None:
    publish_demo(settings, tmp_path)  # computed for quzhou-2020
    with TestClient(create_app(configured_for(settings, on_unverified=policy))) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while state.cache.snapshot is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "quzhou-2020" in ready.json()["detail"] and "suzhou-2021-draft" in ready.json()["detail"]
        line = client.post("/v1/claims/check", json=claim(DEMO_SUSPENDED)).json()["lines"][0]
        assert line["reason"] == "unverified" and line["basis"] is None
        assert line["decision"] == ("pass" if policy == "fail_open" else "reject")
        assert re.search(r"^drgate_snapshot_profile_mismatch 1\.0$", client.get("/metrics").text, re.M)


def test_a_gateway_of_the_same_profile_reports_no_mismatch(settings: Settings, tmp_path: Path,
                                                           redis: redis.Redis) -> None:
    publish_demo(settings, tmp_path)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        while state.cache.snapshot is None:
            time.sleep(0.02)
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/claims/check", json=claim(DEMO_SUSPENDED)).json()["lines"][0]["reason"] == "suspended"
        assert re.search(r"^drgate_snapshot_profile_mismatch 0\.0$", client.get("/metrics").text, re.M)


def test_the_in_process_checker_refuses_another_profiles_snapshot(settings: Settings, tmp_path: Path,
                                                                  redis: redis.Redis) -> None:
    publish_demo(settings, tmp_path)
    checker = Checker.connect(configured_for(settings, on_unverified="fail_closed"))
    try:
        line = checker.check(claim(DEMO_SUSPENDED)).lines[0]
        assert (line.decision, line.reason) == ("reject", "unverified")
        assert checker.profile_mismatch() == ("quzhou-2020", "suzhou-2021-draft")
    finally:
        checker.close()
