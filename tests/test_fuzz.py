"""A short schemathesis run against a running gateway's OpenAPI spec: no 5xx, no answer off the schema.

`make fuzz` runs the same with many more examples (``DRGATE_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cache.keys import Keys
from cache.sync import Syncer
from gateway.api.auth import new_key
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import seed
from tests.fault_servers import Gateway

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = os.environ.get("DRGATE_FUZZ_EXAMPLES", "25")
KEY, DIGEST = new_key()


@pytest.fixture(name="gateway")
def fix_gateway(redis_url: str, redis: redis.Redis, keys: Keys, prefix: str, sqlite_store: Store,
                profile: Profile) -> Iterator[Gateway]:
    seed(sqlite_store, 500)
    Syncer(redis, keys, sqlite_store, profile).full()
    gateway = Gateway({"DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": prefix,
                       "DRGATE_STORE_URL": sqlite_store.url, "DRGATE_API_KEYS": DIGEST})
    yield gateway
    gateway.stop()


@pytest.mark.slow
@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed (pip install -e '.[dev]')")
@pytest.mark.parametrize("scope", [
    ["--checks", "all", "--exclude-path-regex", "^/nhsa/"],
    # The national platform's convention: a malformed envelope is HTTP 200 with infcode -1 (what HIS
    # code branches on), so "invalid data must get a 4xx" does not hold there; every other check does,
    # on negative data too (the default mode generates both): no 5xx, every answer on NhsaAnswer.
    ["--checks", "all", "--exclude-checks", "negative_data_rejection", "--include-path-regex", "^/nhsa/"],
], ids=["v1", "nhsa"])
def test_schemathesis_finds_no_5xx_and_no_answer_off_the_schema(gateway: Gateway, tmp_path: Path,
                                                                 scope: list[str]) -> None:
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{gateway.url}/openapi.json", *scope,
         "--max-examples", EXAMPLES, "--seed", os.environ.get("DRGATE_FUZZ_SEED", "20140501"),
         "--header", f"X-API-Key: {KEY}", "--request-timeout", "10", "--output-truncate", "true"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:] + gateway.output()[-2000:]
