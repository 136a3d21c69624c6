"""The help desk reads the reasons (`GET /v1/physicians/{code}`, `drgate status`): which violations
make the points, why a suspension has no end, what was revoked and by what, the institution's own
sanction when it decides the line, and the ban that binds — read from the scoring store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.cli.main import main
from gateway.settings import Settings
from rules.calendar import package_last_year
from rules.profiles import load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.rows import (
    PHYSICIAN,
    SITE_A,
    SITE_B,
    Row,
    agreement,
    appeal,
    registry,
    restoration,
    revocation,
    sanction,
    violation,
)

QUZHOU = load_profile("quzhou-2020")
Write = Callable[[list[Row | str]], Path]
BASE = [*registry(), agreement("2025-01-01"), agreement("2025-01-01", site=SITE_B)]
NINE = [violation("v1", "18.1", "2026-09-01"), violation("v2", "19.1", "2026-09-05"),
        violation("v3", "20.1", "2026-09-11")]  # 9 points on 2026-09-11: suspended to 2026-10-11


@pytest.fixture(name="ask")
def fix_ask(sqlite_store: Store, write_jsonl: Write, redis: redis.Redis, keys: Keys,
            settings: Settings) -> Iterator[Callable[..., dict[str, Any]]]:
    """``ask(rows, on=…, institution=…)``: import, publish, and ask the help desk."""
    assert settings.store_url_value() == sqlite_store.url  # the same file (tmp_path)
    app_settings = settings.model_copy(update={"status_store": True})
    clients: list[TestClient] = []

    def ask(rows: list[Row], on: str, institution: str | None = None, *, store: bool = True) -> dict[str, Any]:
        import_files(sqlite_store, QUZHOU, [write_jsonl(rows)])
        Syncer(redis, keys, sqlite_store, QUZHOU, grace_seconds=2).full(allow_shrink=True)
        client = TestClient(create_app(app_settings if store else settings))
        clients.append(client)
        client.__enter__()
        params = {"on": on, **({"institution": institution} if institution else {})}
        response = client.get(f"/v1/physicians/{PHYSICIAN}", params=params)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    yield ask
    for client in clients:
        client.__exit__(None, None, None)


def test_the_violations_that_make_the_years_points_with_their_basis(ask: Callable[..., dict[str, Any]]) -> None:
    body = ask([*BASE, *NINE, violation("v4", "19.2", "2025-06-01")], "2026-11-01")
    assert body["points"] == 9
    assert [(v["id"], v["item"], v["points"], v["basis_type"], v["basis_no"]) for v in body["reasons"]["points"]] == [
        ("v1", "18.1", 6, "audit", "稽核-v1"), ("v2", "19.1", 2, "audit", "稽核-v2"),
        ("v3", "20.1", 1, "audit", "稽核-v3")]


def test_why_a_suspension_has_no_end(ask: Callable[..., dict[str, Any]]) -> None:
    body = ask([*BASE, *NINE, restoration("2026-09-23")], "2026-11-01", SITE_A)
    assert (body["line"]["reason"], body["line"]["until"]) == ("suspended", None)
    [open_] = body["reasons"]["open_suspensions"]
    assert (open_["ref"], open_["nominal_end"], open_["window_first"], open_["window_end"]) == (
        "auto:2026:suspend", "2026-10-11", "2026-09-24", "2026-10-11")
    assert open_["why"] == ("no restoration request filed in its window [2026-09-24, 2026-10-11); "
                            "request(s) filed on 2026-09-23 fall outside it")
    assert open_["calendar_known"] is True and body["reasons"]["calendar_unknown_years"] == []


@pytest.mark.skipif(package_last_year() >= 2027, reason="the holidays package now carries 2027's 调休")
def test_a_window_in_a_year_the_calendar_does_not_know_is_said_so(ask: Callable[..., dict[str, Any]]) -> None:
    rows = [*BASE, violation("v1", "18.1", "2027-01-04"), violation("v2", "19.1", "2027-01-08"),
            violation("v3", "20.1", "2027-01-15")]
    body = ask(rows, "2027-03-01")
    [open_] = body["reasons"]["open_suspensions"]
    assert (open_["window_first"], open_["window_end"], open_["calendar_known"]) == (
        "2027-01-29", "2027-02-15", False)
    assert body["reasons"]["calendar_unknown_years"] == [2027]


def test_which_sanctions_were_revoked_and_by_which_record(ask: Callable[..., dict[str, Any]]) -> None:
    rows = [*BASE, *NINE, sanction("S-1", "suspend", "2026-06-01", "2026-07-01"), revocation("S-1", "2026-06-10"),
            appeal("A-1", "v3", "2026-09-15", "2026-10-09", "upheld")]
    revoked = ask(rows, "2026-11-01")["reasons"]["revoked"]
    assert [(r["target_id"], r["kind"], r["by"], r["on"]) for r in revoked] == [
        ("S-1", "sanction", "revocation", "2026-06-10"), ("v3", "violation", "appeal A-1", "2026-10-09")]


def test_the_institutions_own_sanction_and_its_basis_when_it_decides_the_line(
        ask: Callable[..., dict[str, Any]]) -> None:
    closed = {"kind": "institution_sanction", "id": "I-1", "institution_code": SITE_A, "action": "suspend",
              "start": "2026-10-01", "end": None, "basis": "衢医保〔2026〕9号"}
    body = ask([*BASE, closed], "2026-11-01", SITE_A)
    assert body["line"]["reason"] == "institution_suspended"
    assert body["reasons"]["institution"] == {"id": "I-1", "institution_code": SITE_A, "action": "suspend",
                                              "start": "2026-10-01", "end": None, "basis": "衢医保〔2026〕9号",
                                              "article": "衢州 第十四条"}
    assert ask([], "2026-11-01", SITE_B)["reasons"]["institution"] is None


def test_the_ban_that_binds_is_the_latest(ask: Callable[..., dict[str, Any]]) -> None:
    rows = [*BASE, violation("v1", "17.2", "2026-03-02"),
            sanction("T-1", "terminate", "2026-03-02", ban_until="2029-03-02")]
    ban = ask(rows, "2026-11-01")["reasons"]["binding_ban"]
    assert (ban["ref"], ban["ban_until"], ban["computed"]) == ("T-1", "2029-03-02", False)


def test_without_the_store_setting_the_answer_has_no_reasons(ask: Callable[..., dict[str, Any]]) -> None:
    body = ask([*BASE, *NINE], "2026-11-01", store=False)
    assert body["reasons"] is None and body["points"] == 9


def test_drgate_status_prints_the_reasons(ask: Callable[..., dict[str, Any]], sqlite_store: Store,
                                          settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ask([*BASE, *NINE], "2026-11-01")
    monkeypatch.setenv("DRGATE_REDIS_URL", settings.redis_url_value() or "")
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", sqlite_store.url)
    capsys.readouterr()
    assert main(["status", PHYSICIAN, "--on", "2026-11-01", "--institution", SITE_A]) == 0
    body = orjson.loads(capsys.readouterr().out)
    assert body["reasons"]["open_suspensions"][0]["why"].startswith("no restoration request filed in its window")
    assert [d["action"] for d in body["reasons"]["due"]][:1] == ["interview"]
