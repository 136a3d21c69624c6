"""Decision archive: every answer archived once, whole, and found again by id, claim or physician."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.api.auth import digest_of
from gateway.app import create_app
from gateway.check.status import CHINA
from gateway.decisionlog.archiver import Archiver
from gateway.decisionlog.entries import feedback_entry, parse_entry
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.archive.reads import ArchiveReader
from rules.store.archive.writes import Archive
from rules.store.scans import Store
from rules.store.schema import decisions
from rules.store.seed import _kind, expected_reason, home_institution, institution_code, physician_code, seed

SUSPENDED = next(i for i in range(300) if _kind(i) == "suspended" and expected_reason(i) == "suspended")


@pytest.fixture(name="published")
def fix_published(settings: Settings, redis: redis.Redis, keys: Keys, profile: Profile) -> Settings:
    store = Store(settings.store_url_value())
    seed(store, 300)
    Syncer(redis, keys, store, profile).full()
    store.dispose()
    return settings


def claim(n: int) -> dict[str, Any]:
    lines = [{"line_id": f"{n}-{k}", "physician_code": physician_code((n + k) % 320)} for k in range(1 + n % 5)]
    return {"claim_id": f"C-{n}", "institution_code": institution_code(home_institution(n % 300)),
            "service_date": "2026-03-02", "lines": lines}


def check_all(settings: Settings, claims: list[dict[str, Any]], **headers: str) -> list[dict[str, Any]]:
    with TestClient(create_app(settings)) as client:
        answers = []
        for c in claims:
            r = client.post("/v1/claims/check", json=c, headers=headers)
            assert r.status_code == 200, r.text
            answers.append(r.json())
    return answers


def archive_once(client: redis.Redis, keys: Keys, store: Store, **kwargs: Any) -> Archiver:
    archiver = Archiver(client, keys.decisions, Archive(store.engine), block_ms=0, batch=64, **kwargs)
    archiver.run(once=True)
    return archiver


def counts(store: Store) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one()
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(decisions.c.decision_id)))).scalar_one()
        lines = sum(len(orjson.loads(packed)) for packed in conn.execute(sa.select(decisions.c.lines)).scalars())
    return n, distinct, lines


def test_n_checks_are_n_archived_decisions_with_their_lines(published: Settings, redis: redis.Redis, keys: Keys,
                                                           store: Store) -> None:
    answers = check_all(published, [claim(i) for i in range(120)])
    archiver = archive_once(redis, keys, store)
    assert counts(store) == (120, 120, sum(len(a["lines"]) for a in answers))
    assert (archiver.stats.archived, archiver.stats.malformed) == (120, 0)
    assert redis.xpending(keys.decisions, "archive")["pending"] == 0  # every entry acknowledged


def test_archiving_twice_inserts_nothing_twice(published: Settings, redis: redis.Redis, keys: Keys,
                                               store: Store) -> None:
    check_all(published, [claim(i) for i in range(30)])
    raw = [fields[b"d"] for _, fields in redis.xrange(keys.decisions)]
    batch = [parse_entry(r) for r in raw]
    archive = Archive(store.engine)
    assert archive.insert(batch)[0] == 30  # type: ignore[arg-type]
    assert archive.insert(batch) == (0, 0)  # type: ignore[arg-type]
    assert counts(store)[:2] == (30, 30)
    assert ArchiveReader(store.engine).verify().mismatch is None


def test_an_entry_holds_front_caller_policy_snapshot_and_grounds(published: Settings, redis: redis.Redis,
                                                                 keys: Keys, store: Store) -> None:
    key = "k-test-archive"
    settings = published.model_copy(update={"api_keys": (digest_of(key),)})
    code = physician_code(SUSPENDED)
    c = {"claim_id": "C-S", "institution_code": institution_code(home_institution(SUSPENDED)),
         "service_date": "2026-03-02", "lines": [{"line_id": "1", "physician_code": code},
                                                  {"line_id": "2", "physician_code": code,
                                                   "service_date": "2026-03-04"}]}
    (answer,) = check_all(settings, [c], **{"X-API-Key": key})
    ((_, fields),) = redis.xrange(keys.decisions)
    entry = orjson.loads(fields[b"d"])
    assert key not in fields[b"d"].decode() and "医师" not in fields[b"d"].decode()  # neither the key nor a name
    assert entry["caller"] == f"key:{digest_of(key)[:12]}"
    assert (entry["front"], entry["profile"], entry["fail"], entry["days"]) == (
        "v1", "quzhou-2020", "open", ["2026-03-02", "2026-03-04"])
    assert entry["snapshot"] == answer["snapshot"]["id"] and entry["generation"] is not None
    archive_once(redis, keys, store)
    found = ArchiveReader(store.engine).decision(answer["decision_id"])
    assert found is not None
    (line, second) = found["lines"]
    assert (line["physician_code"], line["decision"], line["reason"], line["refs"]) == (
        code, "reject", "suspended", [f"S-seed-{SUSPENDED}"])
    assert line["basis"] and "第二十一条" in line["basis"]  # the article of the rejection
    assert second["service_day"] == "2026-03-04"
    (ground,) = found["grounds"]
    beside_scoring = store.url == published.store_url_value()  # else the archive knows no sanction of now
    assert (ground["ref"], ground["kind"], ground["action"], ground["since"]) == (
        f"S-seed-{SUSPENDED}", "sanction", "settlement_suspend", None if beside_scoring else "gone from the store")


def test_lookup_by_id_claim_and_physician_with_revoked_since(published: Settings, redis: redis.Redis,
                                                             keys: Keys, write_jsonl: Any) -> None:
    code = physician_code(SUSPENDED)
    inst = institution_code(home_institution(SUSPENDED))
    claims = [{"claim_id": f"C-P{n}", "institution_code": inst, "service_date": "2026-03-02",
               "lines": [{"line_id": "1", "physician_code": code}]} for n in range(5)]
    answers = check_all(published, claims)
    store = Store(published.store_url_value())  # the archive beside the scoring store it explains
    archive_once(redis, keys, store)
    from rules.profiles import load_profile
    from rules.store.importer import import_files

    import_files(store, load_profile("quzhou-2020"), [write_jsonl([
        {"kind": "revocation", "target_id": f"S-seed-{SUSPENDED}", "revoked_on": "2026-04-01", "reason": "appeal"}])])
    with TestClient(create_app(published)) as client:
        one = client.get(f"/v1/decisions/{answers[0]['decision_id']}")
        assert one.status_code == 200
        body = one.json()
        assert body["lines"][0]["reason"] == "suspended"
        assert body["grounds"][0]["since"] == "revoked since 2026-04-01"  # what was decided stays
        assert client.get("/v1/decisions/nope").status_code == 404
        by_claim = client.get("/v1/decisions", params={"claim_id": "C-P3"}).json()["decisions"]
        assert [d["decision_id"] for d in by_claim] == [answers[3]["decision_id"]]
        today = datetime.now(CHINA).date().isoformat()  # the received day is Asia/Shanghai's
        seen, cursor = [], None
        while True:
            params = {"physician": code, "from": today, "to": today, "limit": 2}
            page = client.get("/v1/decisions", params={**params, **({"cursor": cursor} if cursor else {})}).json()
            seen += [d["decision_id"] for d in page["decisions"]]
            cursor = page["cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(a["decision_id"] for a in answers)
        assert client.get("/v1/decisions").json() == {"decisions": [], "cursor": None}  # nothing asked for
        assert client.get("/v1/decisions", params={"physician": code, "from": "2026-13-01"}).status_code == 422
        assert client.get("/v1/decisions", params={"physician": code, "cursor": "x"}).status_code == 422
    store.dispose()


def test_feedback_attaches_to_its_decision(published: Settings, redis: redis.Redis, keys: Keys,
                                           store: Store) -> None:
    (answer,) = check_all(published, [claim(3)])
    entry = orjson.dumps(feedback_entry(1767225600.0, answer["decision_id"], {"way": "continue", "reason": "急需"}))
    redis.xadd(keys.decisions, {"d": entry})
    redis.xadd(keys.decisions, {"d": entry})  # delivered twice (a spool replayed): kept once
    archiver = archive_once(redis, keys, store)
    assert archiver.stats.feedback == 2
    found = ArchiveReader(store.engine).decision(answer["decision_id"])
    assert found is not None
    assert [(f["front"], f["body"]) for f in found["feedback"]] == [("nhsa3103", {"way": "continue", "reason": "急需"})]


def test_a_malformed_entry_is_skipped_and_acknowledged(published: Settings, redis: redis.Redis, keys: Keys,
                                                       store: Store) -> None:
    check_all(published, [claim(1)])
    redis.xadd(keys.decisions, {"d": b'{"id": "x"}'})
    redis.xadd(keys.decisions, {"other": b"1"})
    archiver = archive_once(redis, keys, store)
    assert (archiver.stats.archived, archiver.stats.malformed) == (1, 2)
    assert redis.xpending(keys.decisions, "archive")["pending"] == 0


def test_an_archiver_running_its_own_collector_turns_it_off_collects_and_gives_it_back(
        published: Settings, redis: redis.Redis, keys: Keys, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from gateway.decisionlog import archiver as archiver_module

    check_all(published, [claim(i) for i in range(5)])
    monkeypatch.setattr(archiver_module, "COLLECT_EVERY", 0.0)
    seen, collections = [], []
    gc.callbacks.append(collect := lambda phase, info: collections.append(phase))
    try:
        archiver = Archiver(redis, keys.decisions, Archive(store.engine), block_ms=0, own_gc=True)
        archiver.run(should_stop=lambda: seen.append(gc.isenabled()) or len(seen) > 3)
    finally:
        gc.callbacks.remove(collect)
    assert archiver.stats.archived == 5
    assert seen and not any(seen)  # off while it ran
    assert "start" in collections  # yet cycles were collected
    assert gc.isenabled()
