"""A decision's log entry joined from its memoised lines is what orjson writes of the entry's fields."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from cache.snapshot_cache import Snapshot
from gateway.api.schemas import parse_claim
from gateway.check.core import ClaimResult, Policy, decide_claim
from gateway.decisionlog.entries import decision_entry, parse_entry
from gateway.settings import Settings
from rules.model import Agreement, Credit, InstitutionRecord, PhysicianRecord, Sanction, iso
from rules.profiles import Profile

SITE = "H33080200001"
DAY = 739677  # 2026-03-02
AGREEMENT = (Agreement(SITE, 739000),)
# D3 and D5 share a computed sanction's ref (auto:<year>:<action>): an entry keeps it once, at D3's place
RECORDS = {"D1": PhysicianRecord("D1", AGREEMENT), "D2": None,
           "D3": PhysicianRecord("D3", AGREEMENT, (Sanction("suspend", 739000, DAY + 30, computed=True,
                                                            ref="auto:2026:suspend"),)),
           "D4": PhysicianRecord("D4", AGREEMENT, credits=(Credit("C", 737000),)),
           "D5": PhysicianRecord("D5", AGREEMENT, (Sanction("suspend", 739100, DAY + 60, computed=True,
                                                            ref="auto:2026:suspend"),))}


def _result(line_ids: list[str], profile: Profile, *institutions: InstitutionRecord, version: int = 9) -> ClaimResult:
    policy = Policy.from_settings(Settings(), profile)
    body = orjson.dumps({"claim_id": 'C"1中', "institution_code": SITE, "service_date": "2026-03-02", "lines": [
        {"line_id": line_id, "physician_code": f"D{1 + n % 5}"} for n, line_id in enumerate(line_ids)]})
    snapshot = Snapshot(version - 2, version, "2026-03-01T00:00:00.000+00:00", time.time(), 3, ("b",), "x",
                        {i.code: i for i in institutions}, id=f"id-{version}")
    return decide_claim(parse_claim(body), RECORDS, snapshot, policy)


def _written(at: float, result: ClaimResult, front: str, caller: str | None, mdtrt: list[str] | None,
             fail_open: bool, profile: str) -> bytes:
    """The entry as orjson writes its fields, each line a list, from the answer's own lines."""
    audit = result.audit
    assert audit is not None
    snapshot = audit[4]
    assert snapshot is not None
    grounds: dict[str, Any] = {}
    for v in audit[3]:
        grounds.update(v[9])
    day = iso(audit[1])
    lines = [[x.line_id, x.physician_code, x.decision, x.reason, x.basis, x.until, x.ban_until, x.flags,
              x.would_reject, [ref for ref, _ in v[9]]] for x, v in zip(result.lines, audit[3], strict=True)]
    return orjson.dumps({
        "v": 3, "kind": "decision", "id": result.decision_id, "at": int(at * 1000), "front": front, "caller": caller,
        "claim": result.claim_id, "mdtrt": mdtrt, "inst": SITE, "days": [day, day], "decision": result.decision,
        "enforced": result.enforced, "fail": "open" if fail_open else "closed", "profile": profile,
        "snapshot": snapshot.id, "generation": snapshot.generation, "version": snapshot.version,
        "lines": lines, "grounds": grounds})


@pytest.mark.parametrize("line_ids", [["1"], ["中文"], ['a"b'], ["1", "2", "3", "4", "5"],
                                      ['a","b', "x\\", "中文", "t\tb"], [str(n) for n in range(20)],
                                      ["中文", *map(str, range(10)), 'a","b']])
@pytest.mark.parametrize("suspended", [False, True])
def test_the_entry_joined_from_memoised_lines_is_what_orjson_writes_of_its_fields(
        line_ids: list[str], suspended: bool, profile: Profile) -> None:
    site = InstitutionRecord(SITE, (Sanction("suspend", 739000, ref="IS-1"),) if suspended else ())
    result = _result(line_ids, profile, site)
    for args in [("v1", None, None, True, ""), ("nhsa2204", "key:0123456789ab", ["M1", "M2"], False, "quzhou-2020")]:
        front, caller, mdtrt, fail_open, city = args
        entry = decision_entry(1.5, result, front, caller, mdtrt, fail_open=fail_open, profile=city)
        assert entry == _written(1.5, result, front, caller, mdtrt, fail_open, city)
        archived = parse_entry(entry)  # the archiver reads it
        assert (archived.decision[1], len(archived.lines)) == (result.decision_id, len(line_ids))


def test_the_fields_written_once_follow_the_snapshot_and_the_settings(profile: Profile) -> None:
    first, second = _result(["1", "2"], profile, version=9), _result(["1", "2"], profile, version=10)
    for result, fail_open, city in [(first, True, ""), (second, True, ""), (first, True, ""), (first, False, ""),
                                    (first, False, "suzhou-2021")]:
        entry = decision_entry(0.0, result, "v1", None, fail_open=fail_open, profile=city)
        assert entry == _written(0.0, result, "v1", None, None, fail_open, city)
    assert [orjson.loads(decision_entry(0.0, r, "v1", None))["version"] for r in (first, second)] == [9, 10]
