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


@pytest.mark.parametrize("line_ids", [["1", "2", "3", "4"], ['a","b', "x\\", "中文", "tab\there"], ["only"],
                                      [str(n) for n in range(12)], ["中文", *map(str, range(10)), 'a","b']])
def test_the_answer_joined_from_memoised_lines_is_what_orjson_writes_of_them(line_ids: list[str],
                                                                            profile: Profile) -> None:
    policy = Policy.from_settings(Settings(), profile)
    codes = [f"D{1 + n % 4}" for n in range(len(line_ids))]
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


_BASE = '{"claim_id":"C","institution_code":"H1","service_date":"2026-03-02","lines":[%s]}'
_LINE = '{"line_id":"1","physician_code":"D1"}'


@pytest.mark.parametrize("raw", [
    _BASE % _LINE,
    _BASE % ",".join([_LINE] * 1000),
    _BASE % ",".join([_LINE] * 1001),
    _BASE % "",
    (_BASE % _LINE).replace('"C"', '"' + "c" * 64 + '"'),
    (_BASE % _LINE).replace('"C"', '"' + "c" * 65 + '"'),
    (_BASE % _LINE).replace('"C"', '"中文 id, with \\"quotes\\""'),
    (_BASE % _LINE).replace('"C"', '""'),
    (_BASE % _LINE).replace('"C"', "1"),
    (_BASE % _LINE).replace('"D1"', '"' + "D" * 30 + '"'),
    (_BASE % _LINE).replace('"D1"', '"' + "D" * 31 + '"'),
    (_BASE % _LINE).replace('"D1"', '"D1\\n"'),
    (_BASE % _LINE).replace('"D1"', '"D١"'),  # an Arabic-Indic digit: alphanumeric, not [A-Za-z0-9]
    (_BASE % _LINE).replace('"D1"', '"Dé"'),
    (_BASE % _LINE).replace('"H1"', '"H-1"'),
    (_BASE % _LINE).replace('"2026-03-02"', '"2026-03-02 23:59:59"'),
    (_BASE % _LINE).replace('"2026-03-02"', '"2026-03-02 24:00:00"'),
    (_BASE % _LINE).replace('"2026-03-02"', '"2026-03-02\\n"'),
    (_BASE % _LINE).replace('"2026-03-02"', '"2026-02-29"'),
    (_BASE % _LINE).replace('"2026-03-02"', '"2024-02-29"'),
    (_BASE % _LINE).replace('"2026-03-02"', '"٢٠٢٦-03-02"'),
    (_BASE % _LINE).replace('"2026-03-02"', "null"),
    (_BASE % _LINE).replace('"lines"', '"med_type":null,"emergency":true,"rescue":false,"lines"'),
    (_BASE % _LINE).replace('"lines"', '"med_type":"1234567","lines"'),
    (_BASE % _LINE).replace('"lines"', '"emergency":null,"lines"'),
    (_BASE % _LINE).replace('"lines"', '"rescue":1,"lines"'),
    (_BASE % _LINE).replace('"lines"', '"amount":12.5,"lines"'),  # a key to ignore: pydantic-core's
    (_BASE % _LINE).replace('"lines"', '"x":' + "[" * 300 + "]" * 300 + ',"lines"'),  # past its recursion limit
    (_BASE % _LINE).replace('"claim_id":"C"', '"claim_id":"C","claim_id":"D"'),
    (_BASE % _LINE).replace('"claim_id":"C"', '"claim_id":"","claim_id":"D"'),
    (_BASE % _LINE).replace('"claim_id":"C"', '"claim_id":"D","claim_id":""'),
    _BASE % '{"line_id":"1","physician_code":"D1","service_date":null,"emergency":null,"med_type":null}',
    _BASE % '{"line_id":"1","physician_code":"D1","service_date":"2019-01-01 10:00:00","emergency":false}',
    _BASE % '{"line_id":"1","physician_code":"D1","emergency":"true"}',
    _BASE % '{"line_id":"1","physician_code":"D1","med_type":"13"}',
    _BASE % '{"line_id":"1","physician_code":"D1","fee":3}',
    _BASE % '{"line_id":"1"}',
    _BASE % '{"line_id":"1","physician_code":"D1","line_id":"2"}',
    _BASE % '["1","D1"]',
    '[]', '"claim"', '{}', '', '{"claim_id":', (_BASE % _LINE) + " \n", (_BASE % _LINE) + "x",
])
def test_the_orjson_read_claim_is_what_pydantic_core_returns_or_refuses(raw: str) -> None:
    """``parse_claim`` reads a body with orjson and checks it itself: it must accept exactly what
    ``ClaimIn`` accepts, return what it returns, and leave every refusal (its 422) to it."""
    accepted, want = _read_as_pydantic_core_reads(raw.encode())
    if accepted:
        assert parse_claim(bytearray(raw.encode())) == want


def _read_as_pydantic_core_reads(raw: bytes) -> tuple[bool, object]:
    """(accepted, the claim): ``parse_claim`` accepts ``raw`` as ``ClaimIn`` does and returns what
    it returns, or refuses it with the same errors."""
    from gateway.api.schemas import CLAIM

    try:
        want: object = CLAIM.validate_json(raw)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            parse_claim(raw)
        assert got.value.errors() == exc.errors()
        return False, None
    assert parse_claim(raw) == want
    return True, want


_PLAIN_VARIANTS = [
    _LINE,
    '{"line_id":"2","physician_code":"%s"}' % ("D" * 30),
    '{"line_id":"2","physician_code":"%s"}' % ("D" * 31),
    '{"line_id":"2","physician_code":""}',
    '{"line_id":"2","physician_code":"D1\\n"}',
    '{"line_id":"2","physician_code":"D١"}',
    '{"line_id":"2","physician_code":"Dé"}',
    '{"line_id":"2","physician_code":"D 1"}',
    '{"line_id":"2","physician_code":1}',
    '{"line_id":"%s","physician_code":"D1"}' % ("l" * 64),
    '{"line_id":"%s","physician_code":"D1"}' % ("l" * 65),
    '{"line_id":"","physician_code":"D1"}',
    '{"line_id":"中文, \\"quoted\\"","physician_code":"D1"}',
    '{"line_id":2,"physician_code":"D1"}',
    '{"line_id":"2"}',
    '{"line_id":"2","fee":3}',
    '{"physician_code":"D1","fee":3}',
    '{"line_id":"1","physician_code":"D1","line_id":"2"}',
    '{"line_id":"2","physician_code":"D1","emergency":true}',
    '{"line_id":"2","physician_code":"D1","fee":3}',
    '{}',
    '["1","D1"]',
    'null',
]


@pytest.mark.parametrize("variant", _PLAIN_VARIANTS)
@pytest.mark.parametrize("at", [0, 2, 4])
def test_a_line_among_plain_ones_is_read_as_pydantic_core_reads_it(variant: str, at: int) -> None:
    """Any line among plain ones that is not as ``LineIn`` wants it, wherever it stands, leaves the
    claim to pydantic-core, which names it."""
    lines = [_LINE] * 5
    lines[at] = variant
    _read_as_pydantic_core_reads((_BASE % ",".join(lines)).encode())


@pytest.mark.parametrize("count", [3, 4, 5, 20, 1000])
def test_plain_lines_decided_from_the_whole_snapshot_get_each_line_s_own_answer(count: int, profile: Profile) -> None:
    """Decided from the whole snapshot (a hit holds without a look at the record), each line of a
    claim gets the answer it gets alone, a code the snapshot lacks is unknown, a code twice among
    the claim's new ones is decided once."""
    from gateway.check import verdicts

    policy = Policy.from_settings(Settings(), profile)
    agreement = (Agreement(SITE, 739000),)
    records: dict[str, PhysicianRecord | None] = {
        "D0": PhysicianRecord("D0", agreement), "D1": PhysicianRecord("D1", agreement, (Sanction("suspend", 739000),)),
        "D2": PhysicianRecord("D2", agreement, credits=(Credit("C", 737000),)), "D3": None}
    codes = [f"D{n % 5}" for n in range(count)]  # D4: not in the snapshot
    claim = parse_claim(orjson.dumps({"claim_id": "C", "institution_code": SITE, "service_date": "2026-03-02",
                                      "lines": [{"line_id": str(n), "physician_code": code}
                                                for n, code in enumerate(codes)]}))
    snapshot = _snapshot()
    before = verdicts._current.size if verdicts._current.snapshot is snapshot else 0
    result = decide_claim(claim, records, snapshot, policy, absent=None)
    assert verdicts._current.size - before == len(set(codes))
    alone = [decide_claim({**claim, "lines": [line]}, records, snapshot, policy, absent=None).lines[0]
             for line in claim["lines"]]
    assert result.lines == alone
    assert [line.line_id for line in result.lines] == [str(n) for n in range(count)]
    reasons = {"D0": "ok", "D1": "suspended", "D2": "ok", "D3": "unknown_physician", "D4": "unknown_physician"}
    assert {line.physician_code: line.reason for line in alone} == {code: reasons[code] for code in codes}
    again = decide_claim(claim, records, snapshot, policy, absent=None)  # every line a hit now
    assert again.lines == result.lines and verdicts._current.size - before == len(set(codes))
