"""Synthetic scoring-store data at scale (`drgate seed --physicians N`), for benchmarks and staging.

Deterministic: physician ``i`` always gets the same state, so a load test knows every expected
decision (``expected_reason``).  The mix: most physicians active at one institution, 10% at two
(multi-site), 2% suspended, 0.5% terminated, 0.3% credit D, 1% credit C; every 200th
institution suspended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa

from rules import store as schema
from rules.store import Store

__all__ = ["SEED_START", "expected_reason", "institution_code", "physician_code", "seed"]

SEED_START = date(2020, 8, 3)  # 衢州 第二十九条: in force from this day
SUSPENDED_FROM = date(2025, 1, 1)
PER_INSTITUTION = 200


def physician_code(i: int) -> str:
    return f"D330802{i:06d}" if i < 1_000_000 else f"D33080{i:07d}"


def institution_code(j: int) -> str:
    return f"H3308020{j:04d}"


def _kind(i: int) -> str:
    r = (i * 2654435761) % 1000  # spread the kinds evenly over the codes
    if r < 20:
        return "suspended"
    if r < 25:
        return "terminated"
    if r < 28:
        return "disqualified"
    if r < 38:
        return "watch"
    return "active"


def home_institution(i: int) -> int:
    return i // PER_INSTITUTION


def institution_suspended(j: int) -> bool:
    return j % 200 == 199


def expected_reason(i: int, at_institution: int | None = None, *, known: bool = True) -> str:
    """Reason a line of seeded physician ``i`` at an institution gets on a day after 2025-01-01."""
    j = home_institution(i) if at_institution is None else at_institution
    if institution_suspended(j):
        return "institution_suspended"
    if not known:
        return "unknown_physician"
    kind = _kind(i)
    if kind in ("suspended", "terminated", "disqualified"):
        return kind
    sites = {home_institution(i)} | ({home_institution(i) + 1} if i % 10 == 0 else set())
    return "ok" if j in sites else "no_agreement"


def _rows(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for i in range(n):
        code = physician_code(i)
        yield "physicians", {"code": code, "name": f"医师{i}"}
        home = home_institution(i)
        yield "agreements", {"physician_code": code, "institution_code": institution_code(home),
                             "start": SEED_START, "end": None}
        if i % 10 == 0:
            yield "agreements", {"physician_code": code, "institution_code": institution_code(home + 1),
                                 "start": SEED_START, "end": None}
        kind = _kind(i)
        if kind == "suspended":
            yield "sanctions", {"id": f"S-seed-{i}", "physician_code": code, "action": "settlement_suspend",
                                "start": SUSPENDED_FROM, "end": None, "ban_until": None, "basis": "seed"}
        elif kind == "terminated":
            yield "sanctions", {"id": f"T-seed-{i}", "physician_code": code, "action": "terminate",
                                "start": SUSPENDED_FROM, "end": None, "ban_until": date(2026, 1, 1), "basis": "seed"}
        elif kind in ("disqualified", "watch"):
            yield "credits", {"physician_code": code, "level": "D" if kind == "disqualified" else "C",
                              "effective_from": SUSPENDED_FROM}


def seed(store: Store, physicians: int, *, progress: Callable[[int], None] | None = None) -> int:
    """Replace the store's content with ``physicians`` seeded physicians; returns the count."""
    store.init()
    institutions = physicians // PER_INSTITUTION + 2
    with store.engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(schema.institutions.insert(), [
            {"code": institution_code(j), "name": f"定点医疗机构{j}", "region": "330802"}
            for j in range(institutions)])
        suspended = [{"id": f"IS-seed-{j}", "institution_code": institution_code(j), "action": "suspend",
                      "start": SUSPENDED_FROM, "end": None, "basis": "seed"}
                     for j in range(institutions) if institution_suspended(j)]
        if suspended:  # none below 200 institutions; an empty executemany is deprecated
            conn.execute(schema.institution_sanctions.insert(), suspended)
        batch: dict[str, list[dict[str, Any]]] = {"physicians": [], "agreements": [], "sanctions": [], "credits": []}
        done = 0
        for table, row in _rows(physicians):
            batch[table].append(row)
            if table == "physicians":
                done += 1
                if done % 50_000 == 0:
                    _flush(conn, batch)
                    if progress:
                        progress(done)
        _flush(conn, batch)
    return physicians


def _flush(conn: sa.Connection, batch: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in batch.items():
        if rows:
            conn.execute(schema.metadata.tables[name].insert(), rows)
            rows.clear()
