"""The alert rules shipped in docs/alerts/: promtool's unit tests pass, and every series they read exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.cli.demo import HOSPITAL, write_demo_data
from gateway.observe.metrics import write_sync_metrics
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "docs" / "alerts"
RULES = ALERTS / "drgate.rules.yml"


def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: apt-get install prometheus (Debian), or a Prometheus release")
    run = subprocess.run([promtool, "test", "rules", "drgate.rules.test.yml"], cwd=ALERTS, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def _names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_series_the_rules_read_is_exported(settings: Settings, sqlite_store: Store, redis: redis.Redis,
                                                 keys: Keys, profile: Profile, tmp_path: Path) -> None:
    import_files(sqlite_store, profile, [write_demo_data(tmp_path / "demo.jsonl", date.today())])
    result = Syncer(redis, keys, sqlite_store, profile).full()
    claim = {"claim_id": "C-1", "institution_code": HOSPITAL, "service_date": str(date.today()),
             "lines": [{"line_id": "1", "physician_code": "D330802000002"}]}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/claims/check", json=claim).status_code == 200
        assert client.post("/v1/claims/check", json={**claim, "lines": []}).status_code == 422
        exported = _names(client.get("/metrics").text)
    prom = tmp_path / "sync.prom"
    write_sync_metrics(prom, "ok", 0, 1.0, result)
    exported |= _names(prom.read_text())
    read = set(re.findall(r"\bdrgate_[a-z_]+", RULES.read_text()))
    assert read and read <= exported, sorted(read - exported)


@pytest.mark.parametrize("page", ["README.md", "docs/operations.md", "docs/deploy.md"])
def test_the_operator_pages_point_to_the_rules_file(page: str) -> None:
    assert "docs/alerts/drgate.rules.yml" in (ROOT / page).read_text() or "alerts/drgate.rules.yml" in (
        ROOT / page).read_text()
