"""A full sync and an incremental sync publish the same bytes for the same store: one scan
(``rules.store.physician_scan``) and one engine entry (``rules.engine.physician_record``) feed
both, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from cache.keys import OVERFLOW, Keys
from cache.meta import read_meta
from cache.sync import Syncer
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests import rows as r

SITES = tuple(f"H3308020{j:04d}" for j in range(7))
PLAIN, PAIR, SCATTERED, LONG, SUSPENDED, TERMINATED, REVOKED, SCORED, RATED, BARRED, NONE = (
    f"D3308020100{j:02d}" for j in range(11))


def population() -> list[dict[str, Any]]:
    """Physicians of every kind the engine tells apart; agreements go in by start, not by institution."""
    return [
        *r.registry(PLAIN, PAIR, SCATTERED, LONG, SUSPENDED, TERMINATED, REVOKED, SCORED, RATED, BARRED, NONE,
                    sites=SITES),
        r.agreement("2021-01-01", code=PLAIN, site=SITES[0]),
        # Institutions in the reverse order of their starts (a short record, then a long one with
        # two agreements at one institution).
        r.agreement("2020-01-01", code=PAIR, site=SITES[5]),
        r.agreement("2023-01-01", code=PAIR, site=SITES[1]),
        r.agreement("2019-03-01", code=SCATTERED, site=SITES[5]),
        r.agreement("2020-07-01", "2023-01-01", code=SCATTERED, site=SITES[2]),
        r.agreement("2022-02-01", code=SCATTERED, site=SITES[1]),
        r.agreement("2024-05-01", code=SCATTERED, site=SITES[2]),
        # Seven sites: a record longer than a listpack value, kept in the overflow hash.
        *(r.agreement(f"202{6 - j}-01-01", code=LONG, site=s) for j, s in enumerate(SITES)),
        r.agreement("2022-01-01", code=SUSPENDED, site=SITES[3]),
        r.agreement("2020-01-01", code=SUSPENDED, site=SITES[1]),
        r.sanction("s-susp", "suspend", "2024-01-01", "2024-02-01", code=SUSPENDED),
        r.restoration("2024-01-20", code=SUSPENDED),
        r.agreement("2023-06-01", code=TERMINATED, site=SITES[4]),
        r.agreement("2021-06-01", code=TERMINATED, site=SITES[0]),
        r.sanction("s-term", "terminate", "2025-03-01", ban_until="2026-03-01", code=TERMINATED),
        r.agreement("2022-01-01", code=REVOKED, site=SITES[6]),
        r.agreement("2021-01-01", code=REVOKED, site=SITES[2]),
        r.sanction("s-rev", "terminate", "2023-01-01", code=REVOKED),
        r.revocation("s-rev", "2023-02-01"),
        r.agreement("2024-01-01", code=SCORED, site=SITES[1]),
        r.agreement("2020-01-01", code=SCORED, site=SITES[0]),
        r.violation("v1", "18.1", "2025-03-02", code=SCORED, site=SITES[0]),
        r.violation("v2", "17.1", "2025-04-02", code=SCORED, site=SITES[1]),
        r.agreement("2023-01-01", code=RATED, site=SITES[0]),
        r.agreement("2021-01-01", code=RATED, site=SITES[3]),
        {"kind": "credit", "physician_code": RATED, "level": "B", "effective_from": "2024-05-01"},
        {"kind": "credit", "physician_code": RATED, "level": "C", "effective_from": "2023-05-01"},
        r.agreement("2022-01-01", code=BARRED, site=SITES[2]),
        r.agreement("2019-01-01", code=BARRED, site=SITES[5]),
        {"kind": "credit", "physician_code": BARRED, "level": "D", "effective_from": "2024-05-01"},
        {"kind": "institution_sanction", "id": "i-susp", "institution_code": SITES[1], "action": "suspend",
         "start": "2025-01-01", "end": "2025-07-01", "basis": "决定书-i-susp"},
        {"kind": "institution_sanction", "id": "i-term", "institution_code": SITES[4], "action": "terminate",
         "start": "2026-01-01", "end": None, "basis": "决定书-i-term"},
    ]


def published(client: redis.Redis, keys: Keys) -> dict[str, Any]:
    """What the published snapshot holds: every bucket's fields, the overflow and institution
    hashes, and the content digest."""
    meta = read_meta(client, keys)
    generation, nbuckets = int(meta["generation"]), int(meta["buckets"])
    return {
        "buckets": {b: client.hgetall(keys.bucket(generation, b)) for b in range(nbuckets)},
        "overflow": client.hgetall(keys.overflow(generation)),
        "institutions": client.hgetall(keys.institutions(generation)),
        "digest": meta["digest"],
    }


def physicians_of(snapshot: dict[str, Any]) -> dict[bytes, bytes]:
    return {code: value for fields in snapshot["buckets"].values() for code, value in fields.items()}


@pytest.fixture(name="population_file")
def fix_population_file(write_jsonl: Any) -> Path:
    path: Path = write_jsonl(population())
    return path


def test_an_incremental_sync_from_an_empty_snapshot_publishes_the_full_syncs_bytes(
    syncer: Syncer, store: Store, profile: Profile, redis: redis.Redis, keys: Keys, population_file: Path
) -> None:
    syncer.full()  # an empty store: an empty snapshot
    import_files(store, profile, [population_file])
    assert syncer.incremental().mode == "incremental"
    incremental = published(redis, keys)
    assert syncer.full().mode == "full"
    full = published(redis, keys)
    assert len(physicians_of(full)) == 11
    assert physicians_of(full)[LONG.encode()] == OVERFLOW
    assert physicians_of(full)[PAIR.encode()] != OVERFLOW
    assert full["institutions"]
    assert physicians_of(incremental) == physicians_of(full)
    assert incremental == full


def test_an_incremental_sync_touching_every_physician_publishes_the_full_syncs_bytes(
    syncer: Syncer, store: Store, profile: Profile, redis: redis.Redis, keys: Keys, population_file: Path
) -> None:
    import_files(store, profile, [population_file])
    syncer.full()
    full = published(redis, keys)
    import_files(store, profile, [population_file])  # the same rows again: every physician is touched
    result = syncer.incremental()
    assert (result.mode, result.changed) == ("incremental", 11 + len(SITES))
    incremental = published(redis, keys)
    assert physicians_of(incremental) == physicians_of(full)
    assert incremental == full
