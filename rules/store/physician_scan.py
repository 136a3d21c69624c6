"""The physicians scan: every physician's facts (or the named ones'), in code order, in one read.

Both syncs publish from it (``cache.sync``): the full one scans the whole store, the incremental
one the physicians changed since the published watermark.  The small tables (violations,
sanctions, restorations, credits, revocations and upheld appeals) are read first, by physician;
then physicians and their agreements in one ordered read of ``physicians LEFT JOIN agreements``:
for the whole store on the raw DBAPI cursor (a server-side cursor on PostgreSQL, no SQLAlchemy
row processing: at 1,000,000 physicians every microsecond a row counts), for named physicians
by chunks of codes.

A physician comes as its code and its agreement rows as the driver returns them
(``AgreementRows``): most physicians have nothing but agreements and credits, and
the sync computes their record once per distinct rows (``cache.records``).  ``facts`` turns the
rows into the engine's input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rules.model import (
    OPEN_END,
    Agreement,
    CreditEntry,
    ExplicitSanction,
    PhysicianFacts,
    Restoration,
    Revoked,
    Violation,
)
from rules.store.schema import (
    agreements,
    appeals,
    credits,
    physicians,
    restoration_requests,
    revocations,
    sanctions,
    violations,
)

__all__ = ["AgreementRows", "PhysicianScan", "SparseFacts", "chunks", "read_sparse", "revoked_targets"]

#: One physician's agreements, (institution, start, end) as the driver returns them (ISO text
#: on SQLite, ``date`` on PostgreSQL; end None = open), by institution then start.
AgreementRows = tuple[tuple[Any, ...], ...]

#: Rows a fetch from the cursor returns (a server-side cursor's round trip on PostgreSQL).
FETCH_ROWS = 20_000
#: Codes an ``IN`` list holds (SQLite's default limit of bound parameters is 999).
IN_CODES = 900


@dataclass(frozen=True, slots=True)
class SparseFacts:
    """The small tables' rows of the physicians scanned, by physician code; revoked rows are out
    of ``violations`` and ``sanctions`` and in ``revoked``."""

    violations: dict[str, list[Violation]]
    sanctions: dict[str, list[ExplicitSanction]]
    restorations: dict[str, list[Restoration]]
    credits: dict[str, list[CreditEntry]]
    revoked: dict[str, list[Revoked]]

    def sanctionable(self) -> set[str]:
        """Physicians with a violation, a sanction or a restoration request: those whose record
        depends on more than their agreements and credits."""
        return set().union(self.violations, self.sanctions, self.restorations)

    def facts(self, code: str, agreements_: tuple[Agreement, ...] = ()) -> PhysicianFacts:
        return PhysicianFacts(
            code=code,
            agreements=agreements_,
            violations=tuple(self.violations.get(code, ())),
            sanctions=tuple(self.sanctions.get(code, ())),
            restorations=tuple(self.restorations.get(code, ())),
            credits=tuple(self.credits.get(code, ())),
            revoked=tuple(self.revoked.get(code, ())),
        )


class PhysicianScan:
    """One read of the store's physicians on ``conn``: every one, or those of ``codes``.

    ``sparse`` is read when the scan is made; ``physicians`` reads physicians and agreements once.
    """

    __slots__ = ("_conn", "_codes", "_dialect", "_days", "_reads", "sparse")

    def __init__(self, conn: Connection, codes: Sequence[str] | None = None) -> None:
        self._conn = conn
        self._codes = None if codes is None else sorted(set(codes))
        self._dialect = conn.dialect.name
        self._days = _Days()
        self._reads: list[Generator[tuple[Any, ...], None, None]] = []  # the row reads under way
        self.sparse = read_sparse(conn, self._codes, revoked_targets(conn))

    def physicians(self) -> Iterator[tuple[str, AgreementRows]]:
        """Every physician as (code, its agreement rows), in code order.

        A physician without agreements has no rows; a code not in the registry does not come.
        """
        rows_read = self._rows()
        self._reads.append(rows_read)
        for code, group in groupby(rows_read, itemgetter(0)):
            rows = tuple(group)
            if len(rows) == 1:  # the common case, one agreement or none
                first = rows[0]
                yield code, () if first[1] is None else (first[1:],)
            else:
                yield code, tuple(r[1:] for r in rows)

    def close(self) -> None:
        """End the reads still under way (a sync stopped midway) while the connection is open."""
        for read in self._reads:
            read.close()
        self._reads.clear()

    def facts(self, code: str, rows: AgreementRows) -> PhysicianFacts:
        """The engine's input for a physician ``physicians`` gave."""
        days = self._days
        return self.sparse.facts(code, tuple(Agreement(i, days(start), days(end)) for i, start, end in rows))

    def _rows(self) -> Generator[tuple[Any, ...], None, None]:
        """(code, institution, start, end) ordered by code, institution, start; a physician
        without agreements gives one row of Nones."""
        p, a = physicians, agreements
        query = (
            sa.select(p.c.code, a.c.institution_code, a.c.start, a.c.end)
            .select_from(p.outerjoin(a, a.c.physician_code == p.c.code))
            .order_by(self._bytewise(p.c.code), self._bytewise(a.c.institution_code), a.c.start)
        )
        if self._codes is None:
            yield from self._whole(query)
            return
        for chunk in chunks(self._codes, IN_CODES):
            for row in self._conn.execute(query.where(p.c.code.in_(chunk))):
                yield tuple(row)

    def _whole(self, query: sa.Select[Any]) -> Iterator[tuple[Any, ...]]:
        """The query's rows on the raw DBAPI cursor, ``FETCH_ROWS`` a fetch."""
        sql = str(query.compile(dialect=self._conn.dialect))
        dbapi: Any = self._conn.connection.driver_connection
        # PostgreSQL: a named (server-side) cursor streams; SQLite's cursor steps through the result.
        cursor = dbapi.cursor(name="drgate_physician_scan") if self._dialect == "postgresql" else dbapi.cursor()
        try:
            cursor.execute(sql)
            while True:
                rows = cursor.fetchmany(FETCH_ROWS)
                if not rows:
                    return
                yield from rows
        finally:
            cursor.close()

    def _bytewise(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """Order as Python compares str (PostgreSQL's default collation follows the locale, e.g. 'a' < 'B')."""
        return column.collate("C") if self._dialect == "postgresql" else column


def revoked_targets(conn: Connection) -> dict[str, Any]:
    """Targets annulled -> the day: by a revocation (``revoked_on``), or by an upheld appeal
    (衢州 第二十七条, ``decided_on``); of both, the earlier."""
    upheld = sa.select(appeals.c.target_id, appeals.c.decided_on).where(appeals.c.outcome == "upheld")
    found: dict[str, Any] = {}
    for target, on in conn.execute(sa.union(sa.select(revocations.c.target_id, revocations.c.revoked_on), upheld)):
        if target not in found or (on is not None and (found[target] is None or on < found[target])):
            found[target] = on
    return found


def read_sparse(conn: Connection, wanted: Sequence[str] | None, revoked: dict[str, Any], *,
                sanctions_only: bool = False) -> SparseFacts:
    """The small tables' rows of every physician (or of ``wanted``), ``revoked`` set apart;
    violations and sanctions only with ``sanctions_only``."""
    out = SparseFacts(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list))

    def rows(table: sa.Table) -> Iterator[Any]:
        if wanted is None:
            yield from conn.execute(sa.select(table))
            return
        for chunk in chunks(wanted, IN_CODES):
            yield from conn.execute(sa.select(table).where(table.c.physician_code.in_(chunk)))

    for r in rows(violations):
        v = Violation(r.id, r.physician_code, r.institution_code, r.item, r.case_id, r.act_id, r.occurred_on,
                      r.scored_on, r.basis_type, r.basis_no)
        if r.id in revoked:
            if revoked[r.id] is not None:  # an upheld appeal without its day: annulled, not dated
                out.revoked[r.physician_code].append(Revoked(v, revoked[r.id]))
        else:
            out.violations[r.physician_code].append(v)
    for r in rows(sanctions):
        s = ExplicitSanction(r.id, r.physician_code, r.action, r.start, r.end, r.ban_until, r.basis)
        if r.id in revoked:
            if revoked[r.id] is not None:  # an upheld appeal without its day: annulled, not dated
                out.revoked[r.physician_code].append(Revoked(s, revoked[r.id]))
        else:
            out.sanctions[r.physician_code].append(s)
    if sanctions_only:
        return out
    for r in rows(restoration_requests):
        out.restorations[r.physician_code].append(Restoration(r.physician_code, r.filed_on))
    for r in rows(credits):
        out.credits[r.physician_code].append(CreditEntry(r.physician_code, r.level, r.effective_from))
    return out


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Days:
    """Day ordinals of the dates the driver returns, memoised: a store has a few thousand
    distinct dates.  None (an open end) is ``OPEN_END``."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[Any, int] = {None: OPEN_END}

    def __call__(self, raw: Any) -> int:
        found = self._memo.get(raw)
        if found is None:
            value = raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])
            found = self._memo[raw] = value.toordinal()
        return found
