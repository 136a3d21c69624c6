"""The full sync's bulk path gives, physician by physician, the bytes of the engine's record, and
the bulk seed stores what ``rules.store.seed`` describes, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import sqlalchemy as sa

from cache.bucket_writer import PackedBuckets
from cache.codec import encode_physician
from cache.keys import OVERFLOW, Keys, bucket_of
from cache.meta import read_meta
from cache.records import PhysicianRecords
from cache.sync import Syncer
from rules.engine import evaluate
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store, metadata
from rules.store.seed import _bulk, _rows, institution_code, institution_suspended, physician_code, seed
from tests import rows as r

OTHER_B = "D330802000003"
NO_AGREEMENT = "D330802000004"


def mixed_store(store: Store, profile: Profile, write_jsonl: Any) -> None:
    """Plain physicians (one and two sites, ended agreements), sanctions, revoked ones,
    restorations, credits, violations over bands, and one without any agreement."""
    data = [
        *r.registry(r.PHYSICIAN, r.OTHER, OTHER_B, NO_AGREEMENT, "D33080200007", "D33080200008",
                    "D33080200009"),
        r.agreement("2021-01-01", code=r.OTHER),
        r.agreement("2021-01-01", code=OTHER_B),
        r.agreement("2022-03-01", "2024-01-01", site=r.SITE_B, code=OTHER_B),
        r.agreement("2021-01-01", code="D33080200007"),
        r.agreement("2021-06-01", code="D33080200008", site=r.SITE_B),
        r.agreement("2021-01-01", code="D33080200008"),
        r.agreement("2020-09-01", code=r.PHYSICIAN),
        r.agreement("2026-06-01", code=r.PHYSICIAN, site=r.SITE_B),
        r.violation("v1", "18.1", "2025-03-02"),
        r.violation("v2", "17.1", "2025-04-02"),
        r.sanction("s1", "suspend", "2024-01-01", "2024-02-01", code="D33080200007"),
        r.restoration("2024-01-25", code="D33080200007"),
        r.sanction("s2", "terminate", "2023-01-01", code="D33080200009"),
        r.revocation("s2", "2023-02-01"),
        {"kind": "credit", "physician_code": "D33080200008", "level": "C", "effective_from": "2024-05-01"},
    ]
    import_files(store, profile, [write_jsonl(data)])


def build_buckets(store: Store, profile: Profile, nbuckets: int) -> PackedBuckets:
    """What the full sync writes: every physician of the store's scan, encoded, by bucket."""
    buckets = PackedBuckets(nbuckets)
    records = PhysicianRecords(profile, None)
    with store.scan_physicians() as scan:
        buckets.add(records.encoded(scan))
    return buckets


def test_bulk_records_are_the_engines_byte_for_byte(store: Store, profile: Profile, write_jsonl: Any) -> None:
    mixed_store(store, profile, write_jsonl)
    packed = build_buckets(store, profile, 16)
    published = {code: value for b in range(16) for code, value in packed.fields(b).items()}
    published.update(packed.overflow)  # the full record of a physician whose bucket holds OVERFLOW
    expected = {f.code: encode_physician(evaluate(profile, f).record) for f in store.physician_facts()}
    assert published == expected
    assert packed.count == len(expected) == 7
    assert expected[NO_AGREEMENT] == b"[]"


def test_bulk_buckets_are_the_readers_buckets(store: Store, profile: Profile, write_jsonl: Any) -> None:
    mixed_store(store, profile, write_jsonl)
    packed = build_buckets(store, profile, 16)
    for b in range(16):
        assert all(bucket_of(code, 16) == b for code in packed.fields(b))


def test_a_long_record_goes_to_the_overflow_hash(syncer: Syncer, store: Store, profile: Profile,
                                                 write_jsonl: Any, redis: redis.Redis, keys: Keys) -> None:
    sites = [f"H3308020{j:04d}" for j in range(6)]
    import_files(store, profile, [write_jsonl([
        *r.registry(r.PHYSICIAN, sites=tuple(sites)),
        *(r.agreement("2021-01-01", site=s) for s in sites),
    ])])
    syncer.full()
    meta = read_meta(redis, keys)
    generation = int(meta["generation"])
    bucket = keys.bucket(generation, bucket_of(r.PHYSICIAN, int(meta["buckets"])))
    assert redis.hget(bucket, r.PHYSICIAN) == OVERFLOW
    assert redis.hget(keys.overflow(generation), r.PHYSICIAN) == encode_physician(
        evaluate(profile, list(store.physician_facts([r.PHYSICIAN]))[0]).record)


def test_a_store_without_physicians_publishes_an_empty_snapshot(syncer: Syncer) -> None:
    result = syncer.full()
    assert result.physicians == 0


def _table(store: Store, name: str) -> set[tuple[Any, ...]]:
    table = metadata.tables[name]
    with store.engine.connect() as conn:
        return {tuple(row) for row in conn.execute(sa.select(table))}


@pytest.mark.parametrize("physicians", [1234, 40_123])
def test_the_bulk_seed_stores_what_the_seed_describes(store: Store, physicians: int) -> None:
    seed(store, physicians)
    seed(store, physicians)  # a second seed replaces the first
    expected: dict[str, set[tuple[Any, ...]]] = {}
    for table, row in _rows(physicians):
        columns = [c.name for c in metadata.tables[table].columns]
        expected.setdefault(table, set()).add(tuple(row[c] for c in columns))
    for table, wanted in expected.items():
        assert _table(store, table) == wanted, table
    assert len(_table(store, "institutions")) == physicians // 200 + 2
    suspended = {row[1] for row in _table(store, "institution_sanctions")}
    assert suspended == {institution_code(j) for j in range(physicians // 200 + 2) if institution_suspended(j)}


def test_the_seeds_sql_names_physicians_past_a_million_as_python_does(sqlite_store: Store) -> None:
    with _bulk(sqlite_store) as bulk:
        bulk.generate(999_998, 1_000_002)
    codes = {row[0] for row in _table(sqlite_store, "physicians")}
    assert codes == {physician_code(i) for i in range(999_998, 1_000_002)}
    sites = {row[:2] for row in _table(sqlite_store, "agreements")}
    assert sites == {(physician_code(i), institution_code(i // 200 + k)) for i in range(999_998, 1_000_002)
                     for k in (0, 1) if k == 0 or i % 10 == 0}
