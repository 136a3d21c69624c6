"""An entry's lines packed as the archiver reads them now are the bytes the row-a-line reading packed.

The reference below is the archiver's reading before it packed lines itself (a 15-field row a line,
``LINE_FIELDS``, then ``pack_lines``): the archived bytes, hence every digest and chain, must not
move, for entries of every layout the log has written.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from gateway.decisionlog.entries import parse_entry, received_day
from rules.store.archive.chain import LINE_FIELDS, ArchivedDecision, Row, digest, digest_packed, pack_lines
from rules.store.archive.writes import Archive
from rules.store.scans import Store
from rules.store.schema import decision_physicians

IDS = ["1", "", "中文-7", 'a"b', "x\\y", "t\tb", "a],[b", "\u2028", "é" * 40, "D\x7f"]
CODES = ["D330802000001", "D330802000002", "D中文", 'D"q', "D\\s", ""]
DAYS = [None, "2026-03-02", "2026-12-31", ""]  # "": falsy, kept as it is


def _reference_rows(raw: bytes) -> list[Row]:
    """The line rows as the archiver built them before (its ``_decision`` of 2026-12-02, 07:00)."""
    e = orjson.loads(raw)
    decision_id, day = str(e["id"]), received_day(int(e["at"])).isoformat()
    layout = int(e.get("v", 1))
    lines = e["lines"]
    if layout == 1:
        lines = [[x[0], "", x[1], x[2], None, None, None, [], x[3], []] for x in lines]
    elif layout == 2:
        lines = [[*x[:6], None, *x[6:]] for x in lines]

    def iso(v: Any) -> Any:
        return v and date.fromisoformat(v).isoformat()

    return [(day, decision_id, n, str(line_id), str(code), tail[0] if tail else None,
             iso(tail[1]) if tail else None, decision, reason, basis, iso(until),
             ",".join(flags) if flags else "", would_reject, ",".join(refs) if refs else "", iso(ban_until))
            for n, (line_id, code, decision, reason, basis, until, ban_until, flags, would_reject, refs, *tail)
            in enumerate(lines)]


def _line(rng: random.Random, layout: int) -> list[Any]:
    line_id, code = rng.choice(IDS), rng.choice(CODES)
    reject = rng.random() < 0.3
    decision, reason = ("reject", rng.choice(["suspended", "terminated"])) if reject else ("pass", "ok")
    basis = "衢州 第二十一条、第二十二条" if reject else None
    until, ban_until = rng.choice(DAYS), rng.choice(DAYS) if reject else None
    flags = rng.choice([[], ["stale"], ["exempt", "stale"]])
    would_reject = rng.choice([None, False, True])
    refs = rng.choice([[], ["S-1"], ["S-1", "auto:2026:suspend"]]) if reject else []
    if layout == 1:
        return [line_id, decision, reason, would_reject]
    if layout == 2:
        return [line_id, code, decision, reason, basis, until, flags, would_reject, refs]
    tail = rng.choice([[], [], [rng.choice(CODES), None], [None, rng.choice(DAYS[1:])],
                       [rng.choice(CODES), "2026-03-04"]])
    return [line_id, code, decision, reason, basis, until, ban_until, flags, would_reject, refs, *tail]


def _entry(rng: random.Random, n: int, layout: int) -> bytes:
    lines = [_line(rng, layout) for _ in range(rng.choice([1, 2, 3, 20]))]
    grounds = {"S-1": ["sanction", "settlement_suspend", "2025-01-01", None, None, "衢州 第十五条", False]} \
        if rng.random() < 0.5 else {}
    return orjson.dumps({"v": layout, "kind": "decision", "id": f"id-{n}", "at": 1_772_400_000_000 + n,
                         "front": "v1", "caller": None, "claim": f"C-{n}", "mdtrt": None, "inst": "H1",
                         "days": ["2026-03-02", "2026-03-04"], "decision": "partial", "enforced": True,
                         "lines": lines, "grounds": grounds})


@pytest.mark.parametrize("layout", [1, 2, 3])
def test_packed_lines_are_the_bytes_the_rows_packed(layout: int) -> None:
    rng = random.Random(layout)
    for n in range(300):
        raw = _entry(rng, n, layout)
        parsed = parse_entry(raw)
        assert isinstance(parsed, ArchivedDecision)
        rows = _reference_rows(raw)
        assert parsed.packed == pack_lines(rows), raw
        assert parsed.physicians == tuple(dict.fromkeys(r[LINE_FIELDS.index("physician_code")] for r in rows))
        assert parsed.lines == rows and parsed.line_count == len(rows)
        assert digest_packed(parsed.decision, parsed.packed, parsed.grounds) == digest(parsed.decision, rows,
                                                                                       parsed.grounds)


def test_physician_codes_copied_in_text_or_row_by_row_are_indexed_alike(store: Store) -> None:
    codes = ["D1", "D\\2", "D\t3", "D\n4", "D\r5", "D中文6", ""]
    lines = [(0, str(k), code, None, None, "pass", "ok", None, None, "", False, "") for k, code in enumerate(codes)]
    day = date(2026, 3, 2)
    batch = []
    for i, some in enumerate([codes[:1], codes, codes[5:]]):  # text; row by row (escapes); text
        decision = (day.isoformat(), f"id-{i}", 1, "v1", None, "C", None, None, None, None, "pass", True, "open", "",
                    None, None, None, len(some))
        batch.append(ArchivedDecision(day, decision, orjson.dumps(lines[:len(some)]), tuple(some)))
    Archive(store.engine).insert(batch)
    with store.engine.connect() as conn:
        found = set(conn.execute(sa.select(decision_physicians.c.physician_code, decision_physicians.c.decision_id)))
    assert found == {(code, f"id-{i}") for i, some in enumerate([codes[:1], codes, codes[5:]]) for code in some}
