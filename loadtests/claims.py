"""Claims drawn from the seeded store (``drgate seed``), each with the decision every line must get.

Used by the locust file and by ``bench/run.py``, so the load test and the benchmark send the same
mix and every answer can be checked, not only its status.  The mix, per line:

- a physician of the claim's institution (mostly ``ok``; 2% suspended, 0.5% terminated,
  0.3% disqualified, 1% watch; every 200th institution suspended: ``rules.store.seed``);
- ``OTHER_SITE`` of the lines by any physician (``no_agreement`` unless multi-site there);
- ``UNKNOWN`` of the lines with a code the store never had (``unknown_physician``);
- ``EMERGENCY`` of the claims are emergencies (med_type 13): rejections become ``emergency_exempt``.

The date of service is fixed after every seeded sanction started (2025-01-01), so the expected
decisions hold whatever day the test runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

from rules.store.seed import PER_INSTITUTION, expected_reason, home_institution, institution_code, physician_code

__all__ = ["SERVICE_DATE", "Claim", "ExpectedLine", "make_claims", "wrong_lines"]

SERVICE_DATE = "2026-03-02"
OTHER_SITE = 0.05
UNKNOWN = 0.01
EMERGENCY = 0.03


@dataclass(frozen=True, slots=True)
class ExpectedLine:
    line_id: str
    decision: str
    reason: str


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    body: bytes
    decision: str
    lines: tuple[ExpectedLine, ...]


def _expected(i: int, physicians: int, site: int, exempt: bool) -> tuple[str, str]:
    reason = expected_reason(i, site, known=i < physicians)
    if reason == "ok":
        return "pass", "ok"
    return ("pass", "emergency_exempt") if exempt else ("reject", reason)


def make_claims(physicians: int, lines: int, count: int, *, seed: int = 4) -> list[Claim]:
    """``count`` claims of ``lines`` lines each over a store seeded with ``physicians`` physicians."""
    rng = random.Random(seed * 1_000_003 + lines)
    claims: list[Claim] = []
    for n in range(count):
        exempt = rng.random() < EMERGENCY
        site = home_institution(rng.randrange(physicians))
        staff = range(site * PER_INSTITUTION, min(physicians, (site + 1) * PER_INSTITUTION))
        body_lines = []
        expected = []
        for k in range(lines):
            # A claim's lines are mostly ordered by the institution's own physicians, like a real bill.
            draw = rng.random()
            if draw < UNKNOWN:
                i = physicians + rng.randrange(1_000_000)
            elif draw < UNKNOWN + OTHER_SITE:
                i = rng.randrange(physicians)
            else:
                i = rng.choice(staff)
            line_id = str(k + 1)
            decision, reason = _expected(i, physicians, site, exempt)
            body_lines.append({"line_id": line_id, "physician_code": physician_code(i)})
            expected.append(ExpectedLine(line_id, decision, reason))
        claim_id = f"B{lines}-{n}"
        body = {"claim_id": claim_id, "institution_code": institution_code(site), "service_date": SERVICE_DATE,
                "med_type": "13" if exempt else "11", "emergency": False, "rescue": False, "lines": body_lines}
        decisions = {e.decision for e in expected}
        overall = "partial" if len(decisions) == 2 else decisions.pop()
        claims.append(Claim(claim_id, orjson.dumps(body), overall, tuple(expected)))
    return claims


def wrong_lines(claim: Claim, answer: dict[str, object]) -> list[str]:
    """What differs between ``answer`` (the parsed response) and the expected decisions; [] when right."""
    problems: list[str] = []
    if answer.get("claim_id") != claim.claim_id:
        problems.append(f"claim_id {answer.get('claim_id')!r}")
    if answer.get("decision") != claim.decision:
        problems.append(f"decision {answer.get('decision')!r} != {claim.decision!r}")
    got = answer.get("lines")
    if not isinstance(got, list) or len(got) != len(claim.lines):
        return [*problems, "lines missing"]
    for want, line in zip(claim.lines, got, strict=True):
        if not isinstance(line, dict) or (line.get("decision"), line.get("reason")) != (want.decision, want.reason):
            seen = (line.get("decision"), line.get("reason")) if isinstance(line, dict) else line
            problems.append(f"line {want.line_id}: {seen} != {(want.decision, want.reason)}")
    return problems
