"""v1 claims against the demo data (``drgate demo``'s, dated today in China), and the demo published."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.check.status import CHINA
from gateway.cli.demo import HOSPITAL, write_demo_data
from gateway.connections import open_store
from gateway.settings import Settings
from rules.profiles import load_profile
from rules.store.importer import import_files

__all__ = ["TODAY", "claim", "client_for", "publish_demo"]

TODAY = datetime.now(CHINA).date()


def publish_demo(settings: Settings, tmp_path: Path) -> Syncer:
    store = open_store(settings)
    store.init()
    profile = load_profile(settings.profile)
    import_files(store, profile, [write_demo_data(tmp_path / "demo.jsonl", TODAY)])
    syncer = Syncer(redis.Redis.from_url(settings.redis_url_value() or ""), Keys(settings.redis_prefix), store,
                    profile)
    syncer.full()
    return syncer


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def claim(*codes: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"claim_id": "C-1", "institution_code": HOSPITAL, "service_date": TODAY.isoformat(),
                            "med_type": "11", "lines": [{"line_id": str(i), "physician_code": c}
                                                        for i, c in enumerate(codes, 1)]}
    body.update(extra)
    return body
