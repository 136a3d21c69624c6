"""The in-process checker: the same decision as the HTTP API, without HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.checker import Checker, ClaimResult
from gateway.cli.demo import DEMO, HOSPITAL
from gateway.settings import Settings
from tests.claims import TODAY, claim, publish_demo


@pytest.fixture(name="checker")
def fix_checker(settings: Settings, tmp_path: Path, redis: redis.Redis) -> Iterator[Checker]:
    publish_demo(settings, tmp_path)
    checker = Checker.connect(settings)
    yield checker
    checker.close()


def test_checker_decides_every_demo_reason(checker: Checker) -> None:
    result = checker.check(claim(*DEMO))
    assert isinstance(result, ClaimResult)
    assert [line.reason for line in result.lines] == list(DEMO.values())
    assert result.snapshot["version"] == 1


def test_checker_serves_a_second_claim_from_its_own_cache(checker: Checker) -> None:
    checker.check(claim("D330802000001"))
    misses = checker.reader.cache.misses
    checker.check(claim("D330802000001"))
    assert checker.reader.cache.misses == misses


def test_checker_sees_a_new_publication(checker: Checker, settings: Settings, tmp_path: Path) -> None:
    checker.check(claim("D330802000001"))
    publish_demo(settings, tmp_path)  # a second full sync: version 2
    checker.reader.refresh(None)  # what the follower thread does on the invalidation message
    assert checker.check(claim("D330802000001")).snapshot["version"] == 2


def test_checker_refuses_a_malformed_claim(checker: Checker) -> None:
    with pytest.raises(ValueError, match="physician_code"):
        checker.check({"claim_id": "C", "institution_code": HOSPITAL, "service_date": TODAY.isoformat(),
                       "lines": [{"line_id": "1", "physician_code": "D:1"}]})
