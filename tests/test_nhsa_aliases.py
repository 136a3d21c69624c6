"""physician_alias: an institution's HIS ids / certificate numbers resolve to the 医保医师代码 before the decision."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.cli.demo import CLINIC, HOSPITAL
from gateway.settings import Settings
from rules.errors import ImportFileError
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.nhsa import OK, SUSPENDED, TODAY, analysis, encounter, envelope, fee, gateway, order, post


def alias(local: str, physician: str, institution: str = HOSPITAL, **extra: Any) -> dict[str, Any]:
    return {"kind": "physician_alias", "institution_code": institution, "local_code": local,
            "physician_code": physician, **extra}


@pytest.fixture(name="aliased")
def fix_aliased(sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile, published: None,
                write_jsonl: Any) -> None:
    import_files(sqlite_store, profile, [write_jsonl([
        alias("his0231", OK), alias("330802198001011234", SUSPENDED),
        alias("OLD7", OK, end=str(TODAY - timedelta(days=1))), alias("clinic1", OK, institution=CLINIC),
    ])])
    Syncer(redis, keys, sqlite_store, profile).full()


@pytest.fixture(name="client")
def fix_client(settings: Settings, aliased: None) -> Iterator[TestClient]:
    yield from gateway(settings)


def test_a_his_id_resolves_to_the_physician_and_passes(client: TestClient) -> None:
    assert post(client, "2204", [fee(1, "HIS0231"), fee(2, "his0231")])["infcode"] == 0


def test_a_certificate_number_resolves_and_the_answer_names_the_code_sent(client: TestClient) -> None:
    body = post(client, "2204", [fee(1, "330802198001011234")])
    [result] = body["output"]["result"]
    assert result["rule_id"] == "DRGATE-05"
    assert "开单医生330802198001011234" in result["vola_cont"] and SUSPENDED in result["vola_cont"]


def test_3101_orders_resolve_too(client: TestClient) -> None:
    reply = client.post("/nhsa/3101", json=envelope("3101", analysis([encounter([order("1", "330802198001011234")])])))
    assert [r["rule_id"] for r in reply.json()["output"]["result"]] == ["DRGATE-05"]


def test_an_alias_holds_only_between_its_dates(client: TestClient) -> None:
    assert [r["rule_id"] for r in post(client, "2204", [fee(1, "OLD7")])["output"]["result"]] == ["DRGATE-02"]
    yesterday = f"{TODAY - timedelta(days=2)} 10:00:00"
    assert post(client, "2204", [fee(1, "OLD7", fee_ocur_time=yesterday)])["infcode"] == 0


def test_an_alias_holds_only_at_its_institution(client: TestClient) -> None:
    assert [r["rule_id"] for r in post(client, "2204", [fee(1, "CLINIC1")])["output"]["result"]] == ["DRGATE-02"]


def test_an_alias_imported_later_reaches_the_gateway_by_the_incremental_sync(
        client: TestClient, sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile,
        write_jsonl: Any) -> None:
    assert post(client, "2204", [fee(1, "NEW9")])["infcode"] == -1
    import_files(sqlite_store, profile, [write_jsonl([alias("new9", OK)])])
    assert Syncer(redis, keys, sqlite_store, profile).incremental().mode == "incremental"
    deadline = time.monotonic() + 5
    while post(client, "2204", [fee(1, "NEW9")])["infcode"] != 0:
        assert time.monotonic() < deadline, "the alias never reached the gateway"
        time.sleep(0.05)


def test_an_alias_to_an_unknown_physician_is_refused_by_the_import(sqlite_store: Store, profile: Profile,
                                                                     write_jsonl: Any, published: None,
                                                                     tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as refused:
        import_files(sqlite_store, profile, [write_jsonl([alias("x1", "D330802999999"),
                                                          alias("x2", OK, start="2026-02-01", end="2026-01-01")])])
    assert {p.field for p in refused.value.problems} == {"physician_code", "end"}


def test_the_decision_log_keeps_the_code_as_sent_and_as_resolved(client: TestClient, redis: redis.Redis,
                                                                 keys: Keys) -> None:
    import orjson

    post(client, "2204", [fee(1, "his0231"), fee(2, OK)])
    client.portal.call(client.app.state.gateway.decisions.flush)  # type: ignore[attr-defined]
    ((_, fields),) = redis.xrange(keys.decisions)
    entry = orjson.loads(fields[b"d"])
    assert entry["front"] == "nhsa2204" and entry["mdtrt"]
    first, second = entry["lines"]
    assert (first[1], first[10]) == ("his0231", OK)  # as sent, as resolved
    assert len(second) == 10  # sent as the 医保医师代码 itself: nothing resolved
