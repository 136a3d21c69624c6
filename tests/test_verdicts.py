"""Memoised line answers (gateway.check.verdicts) never outlive what they were decided from."""

from __future__ import annotations

import dataclasses
import time

import orjson

from cache.snapshot_cache import UNREAD, Snapshot
from gateway.api.schemas import parse_claim
from gateway.check.core import Policy, decide_claim
from gateway.settings import Settings
from rules.model import Agreement, InstitutionRecord, PhysicianRecord, Sanction
from rules.profiles import Profile

SITE = "H33080200001"
CLAIM = parse_claim(orjson.dumps({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02",
                                  "lines": [{"line_id": "1", "physician_code": "D1"},
                                            {"line_id": "2", "physician_code": "D1"}]}))
ACTIVE = PhysicianRecord("D1", (Agreement(SITE, 737000),))
SUSPENDED = PhysicianRecord("D1", (Agreement(SITE, 737000),), (Sanction("suspend", 739000),))


def _snapshot(*institutions: InstitutionRecord) -> Snapshot:
    return Snapshot(1, 1, "2026-03-01T00:00:00.000+00:00", time.time(), 1, ("b",), "x",
                    {i.code: i for i in institutions})


def reasons(records: dict[str, object], snapshot: Snapshot, policy: Policy) -> list[str]:
    return [line.reason for line in decide_claim(CLAIM, records, snapshot, policy).lines]


def test_a_record_swapped_in_by_a_sync_is_decided_again(profile: Profile) -> None:
    policy, snapshot = Policy.from_settings(Settings(), profile), _snapshot()
    assert reasons({"D1": ACTIVE}, snapshot, policy) == ["ok", "ok"]
    assert reasons({"D1": SUSPENDED}, snapshot, policy) == ["suspended", "suspended"]
    assert reasons({"D1": None}, snapshot, policy) == ["unknown_physician"] * 2
    assert reasons({"D1": UNREAD}, snapshot, policy) == ["unverified"] * 2
    assert reasons({"D1": ACTIVE}, snapshot, policy) == ["ok", "ok"]


def test_a_new_snapshot_decides_again(profile: Profile) -> None:
    policy = Policy.from_settings(Settings(), profile)
    assert reasons({"D1": ACTIVE}, _snapshot(), policy) == ["ok", "ok"]
    closed = _snapshot(InstitutionRecord(SITE, (Sanction("suspend", 739000),)))
    assert reasons({"D1": ACTIVE}, closed, policy) == ["institution_suspended"] * 2


def test_another_policy_decides_again(profile: Profile) -> None:
    snapshot = _snapshot()
    enforced = Policy.from_settings(Settings(), profile)
    shadow = dataclasses.replace(enforced, enforce=False)
    assert [line.decision for line in decide_claim(CLAIM, {"D1": SUSPENDED}, snapshot, enforced).lines] == \
        ["reject", "reject"]
    lines = decide_claim(CLAIM, {"D1": SUSPENDED}, snapshot, shadow).lines
    assert [(line.decision, line.would_reject) for line in lines] == [("pass", "suspended")] * 2


def test_each_line_gets_its_own_flags_list(profile: Profile) -> None:
    policy = Policy.from_settings(Settings(stale_after=0.0), profile)
    first, second = decide_claim(CLAIM, {"D1": ACTIVE}, _snapshot(), policy, now=time.time() + 10).lines
    assert first.flags == second.flags == ["stale"]
    first.flags.append("mine")
    assert second.flags == ["stale"]


def test_from_the_whole_snapshot_a_hit_is_not_read_again_but_another_mapping_decides_again(profile: Profile) -> None:
    """The cache changes its whole mapping only with a new snapshot object (SnapshotCache.install):
    a hit decided from it holds as it is; another mapping, or records read in part, decide again."""
    policy, snapshot = Policy.from_settings(Settings(), profile), _snapshot()
    whole = {"D1": ACTIVE}

    def decided(records: dict[str, object], absent: object, snap: Snapshot = snapshot) -> list[str]:
        return [line.reason for line in decide_claim(CLAIM, records, snap, policy, absent=absent).lines]

    assert decided(whole, None) == ["ok", "ok"]
    whole["D1"] = SUSPENDED  # what the cache never does without a new snapshot: the hit is taken as it is
    assert decided(whole, None) == ["ok", "ok"]
    later = _snapshot()
    assert decided(whole, None, later) == ["suspended", "suspended"]  # a new snapshot: decided again
    assert decided({"D1": ACTIVE}, None, later) == ["ok", "ok"]  # another whole mapping: decided again
    assert decided({"D1": UNREAD}, UNREAD, later) == ["unverified", "unverified"]  # read in part: each hit compared
    assert decided({"D1": ACTIVE}, UNREAD, later) == ["ok", "ok"]
