"""The check's fast paths give the answers of the plain ones: TypedDict parse, agreement-only lines."""

from __future__ import annotations

import time

import orjson
import pytest
from pydantic import ValidationError

from cache.snapshot_cache import Snapshot
from gateway.api.schemas import CheckRequest, parse_claim
from gateway.check.core import Policy, decide_claim
from gateway.check.decision import decide_line
from gateway.checker import claim_of
from gateway.settings import Settings
from rules.model import Agreement, Credit, InstitutionRecord, PhysicianRecord, Sanction
from rules.profiles import Profile

SITE = "H33080200001"
DAY = 739677  # 2026-03-02


def _snapshot(*institutions: InstitutionRecord) -> Snapshot:
    return Snapshot(1, 1, "2026-03-01T00:00:00.000+00:00", time.time(), 3, ("b",), "x",
                    {i.code: i for i in institutions})


@pytest.mark.parametrize(("body", "field"), [
    ({"institution_code": SITE, "service_date": "2026-03-02", "lines": [{"line_id": "1", "physician_code": "D1"}]},
     "claim_id"),
    ({"claim_id": "C", "institution_code": "H*1", "service_date": "2026-03-02",
      "lines": [{"line_id": "1", "physician_code": "D1"}]}, "institution_code"),
    ({"claim_id": "C", "institution_code": SITE, "service_date": "2026-02-30",
      "lines": [{"line_id": "1", "physician_code": "D1"}]}, "service_date"),
    ({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02",
      "lines": [{"line_id": "1", "physician_code": "D:1"}]}, "physician_code"),
    ({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02", "lines": []}, "lines"),
    ({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02", "emergency": None,
      "lines": [{"line_id": "1", "physician_code": "D1"}]}, "emergency"),
])
def test_a_bad_body_is_refused_naming_the_field_as_the_model_does(body: dict[str, object], field: str) -> None:
    raw = orjson.dumps(body)
    with pytest.raises(ValidationError) as fast:
        parse_claim(raw)
    with pytest.raises(ValidationError) as model:
        CheckRequest.model_validate_json(raw)
    assert field in {str(p) for e in fast.value.errors() for p in e["loc"]}
    assert [e["loc"] for e in fast.value.errors()] == [e["loc"] for e in model.value.errors()]


def test_the_dict_claim_and_the_model_claim_get_the_same_answer(profile: Profile) -> None:
    policy = Policy.from_settings(Settings(), profile)
    body = orjson.dumps({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02 10:00:00",
                         "med_type": "11", "lines": [
                             {"line_id": "1", "physician_code": "D1"},
                             {"line_id": "2", "physician_code": "D2", "emergency": True},
                             {"line_id": "3", "physician_code": "D3", "service_date": "2019-01-01"},
                             {"line_id": "4", "physician_code": "D4", "med_type": "13"},
                             {"line_id": "5", "physician_code": "D5"}]})
    agreement = (Agreement(SITE, 739000),)
    records = {"D1": PhysicianRecord("D1", agreement), "D2": PhysicianRecord("D2", agreement),
               "D3": PhysicianRecord("D3", agreement), "D4": None,
               "D5": PhysicianRecord("D5", agreement, credits=(Credit("C", 737000),))}
    fast = decide_claim(parse_claim(body), records, _snapshot(), policy)
    slow = decide_claim(claim_of(CheckRequest.model_validate_json(body)), records, _snapshot(), policy)
    fast.decision_id = slow.decision_id = "-"
    assert fast.json() == slow.json()
    assert [(x.reason, x.flags) for x in fast.lines] == [
        ("ok", []), ("ok", ["emergency"]), ("no_agreement", []), ("emergency_exempt", ["emergency"]),
        ("ok", ["watch"])]


@pytest.mark.parametrize("record", [
    PhysicianRecord("D1", (Agreement(SITE, 737000),)),
    PhysicianRecord("D1", (Agreement("H33080200002", 737000), Agreement(SITE, DAY + 1))),
    PhysicianRecord("D1", (Agreement(SITE, 737000, DAY),)),
    PhysicianRecord("D1", (Agreement(SITE, 737000),), (Sanction("suspend", 739000),)),
    None,
])
@pytest.mark.parametrize("site_sanctions", [(), (Sanction("suspend", 739000),)])
def test_each_line_gets_what_decide_line_gives(record: PhysicianRecord | None,
                                                site_sanctions: tuple[Sanction, ...], profile: Profile) -> None:
    policy = Policy.from_settings(Settings(), profile)
    institution = InstitutionRecord(SITE, site_sanctions)
    claim = parse_claim(orjson.dumps({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02",
                                      "lines": [{"line_id": "1", "physician_code": "D1"}]}))
    line = decide_claim(claim, {"D1": record}, _snapshot(institution), policy).lines[0]
    d = decide_line(record, institution, SITE, DAY, False, policy.basis)
    assert (line.decision, line.reason, line.basis, line.flags) == (d.decision, d.reason, d.basis, list(d.flags))


def test_decision_ids_are_unique(profile: Profile) -> None:
    policy = Policy.from_settings(Settings(), profile)
    claim = parse_claim(orjson.dumps({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02",
                                      "lines": [{"line_id": "1", "physician_code": "D1"}]}))
    ids = {decide_claim(claim, {}, _snapshot(), policy).decision_id for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 for i in ids)


@pytest.mark.parametrize("line_ids", [["1", "2", "3", "4"], ['a","b', "x\\", "中文", "tab\there"], ["only"]])
def test_the_answer_joined_from_memoised_lines_is_what_orjson_writes_of_them(line_ids: list[str],
                                                                            profile: Profile) -> None:
    policy = Policy.from_settings(Settings(), profile)
    codes = ["D1", "D2", "D3", "D4"][:len(line_ids)]
    body = orjson.dumps({"claim_id": 'C"1', "institution_code": SITE, "service_date": "2026-03-02", "lines": [
        {"line_id": line_id, "physician_code": code} for line_id, code in zip(line_ids, codes, strict=True)]})
    agreement = (Agreement(SITE, 739000),)
    records = {"D1": PhysicianRecord("D1", agreement), "D2": None,
               "D3": PhysicianRecord("D3", agreement, (Sanction("suspend", 739000, DAY + 30),)),
               "D4": PhysicianRecord("D4", agreement, credits=(Credit("C", 737000),))}
    result = decide_claim(parse_claim(body), records, _snapshot(), policy)
    joined = result.json()  # before .lines is read: from the verdicts
    assert joined == orjson.dumps({"claim_id": result.claim_id, "decision": result.decision,
                                   "decision_id": result.decision_id, "snapshot": result.snapshot,
                                   "enforced": result.enforced, "lines": result.lines})
    assert result.json() == joined  # and after, from the lines
