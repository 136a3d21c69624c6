"""The workflow's reads of the scoring store: violations and sanctions revoked or not, the
revocations and appeals that annul them, and the notices served (``rules.workflow``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rules.model import Agreement, ExplicitSanction, Violation, day, day_or_open
from rules.store.scans import Store
from rules.store.schema import agreements, appeals, notices, revocations, sanctions, violations
from rules.workflow import Appeal, Revocation, ServedNotice, WorkflowFacts

__all__ = ["target_owners", "workflow_facts"]


def workflow_facts(store: Store, codes: Iterable[str]) -> dict[str, WorkflowFacts]:
    """The workflow facts of these physicians (every code named gets an entry)."""
    wanted = sorted(set(codes))
    rows: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    with store.engine.connect() as conn:
        for table in (agreements, violations, sanctions, appeals, notices):
            for r in _rows(conn, table, wanted):
                rows[r.physician_code][table.name].append(r)
        owned = {r.id: code for code, tables in rows.items() for t in ("violations", "sanctions")
                 for r in tables[t]}
        for chunk in _chunks(sorted(owned), 900):
            for r in conn.execute(sa.select(revocations).where(revocations.c.target_id.in_(chunk))):
                rows[owned[r.target_id]]["revocations"].append(r)
    return {code: _facts(code, rows[code]) for code in wanted}


def target_owners(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """Violation or sanction id -> its physician's code, for the ids the store knows."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ids)), 900):
        for table in (violations, sanctions):
            query = sa.select(table.c.id, table.c.physician_code).where(table.c.id.in_(chunk))
            found.update((r.id, r.physician_code) for r in conn.execute(query))
    return found


def _facts(code: str, rows: dict[str, list[Any]]) -> WorkflowFacts:
    return WorkflowFacts(
        code=code,
        agreements=tuple(Agreement(r.institution_code, day(r.start), day_or_open(r.end))
                         for r in sorted(rows["agreements"], key=lambda r: (r.institution_code, r.start))),
        violations=tuple(Violation(r.id, r.physician_code, r.institution_code, r.item, r.case_id, r.act_id,
                                   r.occurred_on, r.scored_on, r.basis_type, r.basis_no)
                         for r in rows["violations"]),
        sanctions=tuple(ExplicitSanction(r.id, r.physician_code, r.action, r.start, r.end, r.ban_until, r.basis)
                        for r in rows["sanctions"]),
        revocations=tuple(Revocation(r.target_id, r.revoked_on, r.reason) for r in rows["revocations"]),
        appeals=tuple(Appeal(r.id, r.physician_code, r.target_id, r.filed_on, r.decided_on, r.outcome)
                      for r in sorted(rows["appeals"], key=lambda r: (r.filed_on, r.id))),
        served=tuple(ServedNotice(r.id, r.served_on, r.channel) for r in rows["notices"]),
    )


def _rows(conn: Connection, table: sa.Table, wanted: list[str]) -> Iterator[Any]:
    for chunk in _chunks(wanted, 900):
        yield from conn.execute(sa.select(table).where(table.c.physician_code.in_(chunk)))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
