"""Payloads shaped exactly as public HIS codebases serialise them (tests/fixtures/nhsa/, one file a source)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from gateway.settings import Settings
from tests.nhsa import ENVELOPE_FIELDS, TODAY, gateway

FIXTURES = Path(__file__).parent / "fixtures" / "nhsa"
CASES = [(path.stem, infno) for path in sorted(FIXTURES.glob("*.json"))
         for infno in orjson.loads(path.read_bytes())["expect"]]


def load(source: str) -> dict[str, Any]:
    """The source's payloads, dated today (they were written on 2026-12-01)."""
    return orjson.loads((FIXTURES / f"{source}.json").read_text(encoding="utf-8").replace("2026-12-01", str(TODAY)))


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None) -> Iterator[TestClient]:
    yield from gateway(settings)


def test_every_fixture_names_its_origin() -> None:
    for path in FIXTURES.glob("*.json"):
        assert "/" in orjson.loads(path.read_bytes())["origin"], path.name


@pytest.mark.parametrize(("source", "infno"), CASES)
def test_a_field_payload_is_decided_as_expected(client: TestClient, source: str, infno: str) -> None:
    fixture = load(source)
    reply = client.post(f"/nhsa/{infno}", content=orjson.dumps(fixture[infno]),
                        headers={"content-type": "application/json"})
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == ENVELOPE_FIELDS
    expect = fixture["expect"][infno]
    results = body["output"].get("result", [])
    if infno in ("3101", "3102"):
        assert body["infcode"] == 0, body["err_msg"]
        assert [r["rule_id"] for r in results] == expect["rules"]
        return
    assert body["infcode"] == expect["infcode"], body["err_msg"]
    if expect["rejected"]:
        assert sorted(d["rx_id"] for r in results for d in r["judge_result_detail_dtos"]) == expect["rejected"]
    else:
        sent = fixture[infno]["input"]["feedetail"]
        sent = sent if isinstance(sent, list) else [sent]
        assert [row["feedetl_sn"] for row in results] == [line["feedetl_sn"] for line in sent]
