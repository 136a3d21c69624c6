"""The content guard: a sync that would drop the published snapshot's sanctions, credits,
agreements or physicians publishes nothing (exit 4); the counts stay exact across incremental syncs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

import cache.sync
from cache.errors import ShrinkRefused
from cache.keys import Keys
from cache.meta import china_today, read_meta
from cache.sync import Syncer
from cache.tally import Tally, physician_steps, rejected_on
from gateway.cli.main import EXIT_OK, EXIT_SHRINK, main
from rules.model import OPEN_END, Agreement, Credit, PhysicianRecord, Sanction
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.seed import institution_code, physician_code, seed

N = 400


@pytest.fixture(name="seeded")
def fix_seeded(store: Store) -> Store:
    """400 seeded physicians (8 suspended, 2 terminated, 1 credit D) and one suspended institution."""
    seed(store, N)
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO institution_sanctions (id, institution_code, action, start, \"end\", basis) "
                             "VALUES ('IS-1', :code, 'suspend', '2025-01-01', NULL, 'test')"),
                     {"code": institution_code(1)})
    return store


@pytest.fixture(name="cli_env")
def fix_cli_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str, seeded: Store) -> None:
    monkeypatch.setenv("DRGATE_REDIS_URL", redis_url)
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", seeded.url)


def published_keys(client: redis.Redis, keys: Keys) -> dict[bytes, int]:
    """Every key of the test's prefix with its length: what "nothing published" leaves unchanged."""
    return {key: client.memory_usage(key) or 0 for key in client.scan_iter(match=f"{keys.tag}:*", count=1000)
            if key not in (keys.lock.encode(), keys.sync.encode())}  # the lock; the last sync's outcome


def sql(store: Store, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


EMPTIED = [  # what is deleted upstream, and a count the refusal must name with its fall
    pytest.param(["DELETE FROM sanctions"], "physicians rejected today from 11 to 1", id="sanctions"),
    pytest.param(["DELETE FROM sanctions"], "physician sanctions in force today from 10 to 0", id="sanctions-count"),
    pytest.param(["DELETE FROM credits"], "credit-D physicians today from 1 to 0", id="credits"),
    pytest.param(["DELETE FROM sanctions", "DELETE FROM credits"], "physicians rejected today from 11 to 0",
                 id="sanctions-and-credits"),
    pytest.param(["DELETE FROM institution_sanctions"], "institution sanctions in force today from 1 to 0",
                 id="institution_sanctions"),
    # 437: the credit-D physician's agreement is cancelled (衢州 第二十三条 取消资格).
    pytest.param(["DELETE FROM agreements"], "agreements in force today from 437 to 0", id="agreements"),
    pytest.param(["DELETE FROM physicians"], "physicians from 400 to 0", id="physicians"),
]


@pytest.mark.parametrize(("statements", "named"), EMPTIED)
def test_a_full_sync_after_a_table_is_emptied_exits_4_and_publishes_nothing(
    cli_env: None, redis: redis.Redis, keys: Keys, seeded: Store, statements: list[str], named: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sync", "--full"]) == EXIT_OK
    meta, before = read_meta(redis, keys), published_keys(redis, keys)
    capsys.readouterr()
    sql(seeded, *statements)
    assert main(["sync", "--full"]) == EXIT_SHRINK
    assert named in capsys.readouterr().err
    assert read_meta(redis, keys) == meta
    assert published_keys(redis, keys) == before


def test_allow_shrink_publishes_the_emptied_store(cli_env: None, redis: redis.Redis, keys: Keys,
                                                  seeded: Store) -> None:
    assert main(["sync", "--full"]) == EXIT_OK
    sql(seeded, "DELETE FROM sanctions", "DELETE FROM credits")
    assert main(["sync", "--full", "--allow-shrink"]) == EXIT_OK
    meta = read_meta(redis, keys)
    assert (meta["sanctions"], meta["disqualified"], meta["rejected"]) == ("0", "0", "0")


def test_an_incremental_sync_that_drops_the_sanctions_exits_4(
    cli_env: None, redis: redis.Redis, keys: Keys, seeded: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--full"]) == EXIT_OK
    meta = read_meta(redis, keys)
    with seeded.engine.begin() as conn:
        sanctioned = list(conn.execute(sa.text("SELECT physician_code FROM sanctions")).scalars())
        conn.execute(sa.text("DELETE FROM sanctions"))
        seeded.record_changes(conn, sanctioned, [])
    assert main(["sync"]) == EXIT_SHRINK
    assert "physicians rejected today from 11 to 1" in capsys.readouterr().err
    assert read_meta(redis, keys) == meta
    assert main(["sync", "--allow-shrink"]) == EXIT_OK
    assert read_meta(redis, keys)["rejected"] == "1"


def test_an_incremental_sync_that_lifts_an_institution_sanction_exits_4(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM institution_sanctions"))
        seeded.record_changes(conn, [], [institution_code(1)])
    with pytest.raises(ShrinkRefused) as refused:
        syncer.incremental()
    assert refused.value.what == "institution sanctions in force today"


def test_a_count_that_is_0_in_the_published_snapshot_never_blocks(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    sql(seeded, "DELETE FROM sanctions", "DELETE FROM credits", "DELETE FROM institution_sanctions")
    syncer = Syncer(redis, keys, seeded, profile, max_shrink=0.0)
    syncer.full()
    assert syncer.full().physicians == N
    assert read_meta(redis, keys)["rejected"] == "0"


def test_sanctions_that_end_by_themselves_are_not_a_drop(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sides are counted on the sync's day: a snapshot published yesterday is read for today."""
    today = china_today()
    tomorrow = date.fromordinal(today + 1).isoformat()
    sql(seeded, f"UPDATE sanctions SET \"end\" = '{tomorrow}' WHERE action = 'settlement_suspend'")
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    assert read_meta(redis, keys)["sanctions"] == "10"
    monkeypatch.setattr(cache.sync, "china_today", lambda: today + 1)  # tomorrow: the 8 suspensions have ended
    assert syncer.full().physicians == N
    assert (read_meta(redis, keys)["sanctions"], read_meta(redis, keys)["rejected"]) == ("2", "3")


def test_incremental_syncs_keep_the_counts_exact(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile, write_jsonl: Callable[[list[Any]], Path]
) -> None:
    """After imports of sanctions, credits, revocations and agreements, the published tally is the
    one a fresh full sync computes, on every day."""
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    rows = [
        {"kind": "sanction", "id": "S-new", "physician_code": physician_code(1), "action": "suspend",
         "start": "2026-01-01", "end": "2027-03-01", "ban_until": None, "basis": "test"},
        {"kind": "credit", "physician_code": physician_code(2), "level": "D", "effective_from": "2026-06-01"},
        {"kind": "agreement", "physician_code": physician_code(3), "institution_code": institution_code(2),
         "start": "2026-02-01", "end": "2027-01-01"},
        {"kind": "institution_sanction", "id": "IS-2", "institution_code": institution_code(0),
         "action": "suspend", "start": "2026-01-01", "end": "2027-01-01", "basis": "test"},
        {"kind": "revocation", "target_id": "IS-1", "revoked_on": "2026-03-01", "reason": "test"},
    ]
    report = import_files(seeded, profile, [write_jsonl(rows)])
    assert not report.problems
    syncer.incremental()
    incremental = Tally.from_fields(redis.hgetall(keys.tally(int(read_meta(redis, keys)["generation"]))))
    fresh = syncer.full(allow_shrink=True)
    full = Tally.from_fields(redis.hgetall(keys.tally(fresh.generation)))
    for day in range(china_today() - 400, china_today() + 400, 7):
        assert incremental.on(day) == full.on(day), day


D0 = 739_000  # a day ordinal


@pytest.mark.parametrize(("record", "rejected", "accepted"), [
    # credit D disqualifies from its day; a later A does not make the physician rejected (衢州 第二十三条)
    (PhysicianRecord("D1", (Agreement("H1", D0),), credits=(Credit("D", D0 + 10), Credit("A", D0 + 20))),
     [D0 + 10, D0 + 19], [D0 + 9, D0 + 20]),
    # a suspension rejects while in force
    (PhysicianRecord("D1", (Agreement("H1", D0),), (Sanction("suspend", D0 + 5, D0 + 8),)),
     [D0 + 5, D0 + 7], [D0 + 4, D0 + 8]),
    # a termination rejects until an agreement honoured after its ban is in force (衢州 第二十一条)
    (PhysicianRecord("D1", (Agreement("H1", D0, D0 + 5), Agreement("H2", D0 + 30)),
                     (Sanction("terminate", D0 + 5, OPEN_END, D0 + 30),)),
     [D0 + 5, D0 + 29], [D0 + 4, D0 + 30]),
])
def test_rejected_steps_follow_the_decision_day_by_day(
    record: PhysicianRecord, rejected: list[int], accepted: list[int]
) -> None:
    tally = Tally()
    tally.add(physician_steps(record))
    for on in rejected:
        assert rejected_on(record, on) and tally.on(on)["rejected"] == 1
    for on in accepted:
        assert not rejected_on(record, on) and tally.on(on)["rejected"] == 0
