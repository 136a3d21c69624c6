"""The scoring store: its writes and the reads the sync needs, for SQLite and PostgreSQL.

One code path serves both engines.  Every write also appends the touched physician (or
institution) to ``changes``, whose ``seq`` is the watermark of the incremental sync.  The
physicians' facts come from one scan (``rules.store.physician_scan``), for both syncs and the
help desk's reports.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rules.errors import StoreError
from rules.model import (
    InstitutionRecord,
    PhysicianFacts,
    Sanction,
    day,
    day_or_open,
)
from rules.profiles import Profile
from rules.store.aliases import alias_records
from rules.store.physician_scan import PhysicianScan, chunks, read_sparse, revoked_targets
from rules.store.schema import (
    KEYS,
    changes,
    institution_sanctions,
    institutions,
    metadata,
    physicians,
    sanctions,
    violations,
)

__all__ = ["KEYS", "Store", "metadata"]

log = logging.getLogger(__name__)

#: pg_advisory_xact_lock key serialising writers of ``changes`` (any constant; "drgate" in ASCII).
_CHANGES_LOCK = 0x647267617465

@dataclass(frozen=True, slots=True)
class ChangeSet:
    watermark: int
    physicians: frozenset[str]
    institutions: frozenset[str]


class Store:
    """A scoring store at ``url`` (``sqlite:///var/drgate.db`` or ``postgresql+psycopg://…``)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(url, echo=echo, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def init(self) -> tuple[str | None, str]:
        """Migrate the schema to the newest revision (idempotent); (revision before, after)."""
        from rules.store.migrate import upgrade

        return upgrade(self.engine)

    def check(self) -> None:
        try:
            with self.engine.connect() as conn:
                missing = [t for t in metadata.tables if not sa.inspect(conn).has_table(t)]
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot reach the scoring store: {exc.orig}") from exc
        if missing:
            raise StoreError(
                f"the scoring store is not initialised (missing {', '.join(missing)}); run `drgate store init`"
            )
        from rules.store.migrate import current_revision, head_revision

        with self.engine.connect() as conn:
            current, head = current_revision(conn), head_revision()
        if current != head:
            raise StoreError(f"the scoring store's schema is at revision {current or 'none'}, this drgate needs "
                             f"{head}; run `drgate store init` to migrate it (back it up first)")

    def dispose(self) -> None:
        self.engine.dispose()

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, conn: Connection, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows, replacing those with the same natural key."""
        if not rows:
            return
        table = metadata.tables[table_name]
        keys = KEYS[table_name]
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(table)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)  # type: ignore[assignment]
        others = [c.name for c in table.columns if c.name not in keys]
        if others:
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in others})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        for chunk in chunks(rows, 5000):
            conn.execute(stmt, list(chunk))

    def record_changes(self, conn: Connection, physicians_: Iterable[str], institutions_: Iterable[str]) -> None:
        """Append the touched codes to ``changes``; call it last in the writing transaction.

        On PostgreSQL two imports could take sequence numbers in one order and commit in the
        other, and a sync reading in between would move its watermark past the uncommitted
        ones for ever.  A transaction-scoped advisory lock, held from here to the commit, makes
        ``seq`` order the commit order (SQLite has one writer at a time already).
        """
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGES_LOCK})
        rows = [{"physician_code": c, "institution_code": None} for c in sorted(set(physicians_))]
        rows += [{"physician_code": None, "institution_code": c} for c in sorted(set(institutions_))]
        for chunk in chunks(rows, 5000):
            conn.execute(changes.insert(), list(chunk))

    # -- reads ----------------------------------------------------------------------------

    def existing(self, conn: Connection, table_name: str, column: str, values: Iterable[str]) -> set[str]:
        table = metadata.tables[table_name]
        found: set[str] = set()
        for chunk in chunks(sorted(set(values)), 900):
            found.update(conn.execute(sa.select(table.c[column]).where(table.c[column].in_(chunk))).scalars())
        return found

    def owners_of(self, conn: Connection, ids: Iterable[str]) -> tuple[set[str], set[str]]:
        """Physicians and institutions whose violations or sanctions carry these ids."""
        wanted = sorted(set(ids))
        phys: set[str] = set()
        inst: set[str] = set()
        for chunk in chunks(wanted, 900):
            for table in (violations, sanctions):
                phys.update(conn.execute(sa.select(table.c.physician_code).where(table.c.id.in_(chunk))).scalars())
            inst.update(
                conn.execute(
                    sa.select(institution_sanctions.c.institution_code).where(institution_sanctions.c.id.in_(chunk))
                ).scalars()
            )
        return phys, inst

    def watermark(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))).scalar_one())

    def changes_since(self, watermark: int) -> ChangeSet:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(changes.c.seq, changes.c.physician_code, changes.c.institution_code).where(
                    changes.c.seq > watermark
                )
            ).all()
        return ChangeSet(
            watermark=max((r.seq for r in rows), default=watermark),
            physicians=frozenset(r.physician_code for r in rows if r.physician_code),
            institutions=frozenset(r.institution_code for r in rows if r.institution_code),
        )

    def count_physicians(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(physicians)).scalar_one())

    def physicians_with_facts(self, conn: Connection | None = None) -> list[str]:
        """Sorted codes with a violation or a sanction (revoked or not): the few that can be sanctioned."""
        query = sa.union(sa.select(violations.c.physician_code), sa.select(sanctions.c.physician_code))
        with nullcontext(conn) if conn is not None else self.engine.connect() as reading:
            return sorted(reading.execute(query).scalars())

    def institution_records(self, profile: Profile, codes: Iterable[str] | None = None) -> list[InstitutionRecord]:
        """Every institution (or those named) with its sanctions (衢州 第十四条)."""
        with self.engine.connect() as conn:
            q_inst = sa.select(institutions.c.code)
            q_sanc = sa.select(institution_sanctions)
            if codes is not None:
                wanted = sorted(set(codes))
                q_inst = q_inst.where(institutions.c.code.in_(wanted))
                q_sanc = q_sanc.where(institution_sanctions.c.institution_code.in_(wanted))
            revoked = revoked_targets(conn)
            by_code: dict[str, list[Sanction]] = defaultdict(list)
            for r in conn.execute(q_sanc.order_by(institution_sanctions.c.start)):
                if r.id in revoked:
                    continue
                by_code[r.institution_code].append(
                    Sanction(
                        r.action,
                        day(r.start),
                        day_or_open(r.end),
                        0,
                        profile.basis_for(f"institution_{'terminated' if r.action == 'terminate' else 'suspended'}")
                        or "",
                        False,
                        r.id,
                    )
                )
            return [InstitutionRecord(code, tuple(by_code.get(code, ()))) for code in conn.execute(q_inst).scalars()]

    def aliases(self, institutions: Iterable[str] | None = None) -> dict[str, list[tuple[str, str, int, int]]]:
        """Each institution's physician aliases (rules/store/aliases.py), or those of ``institutions``."""
        with self.engine.connect() as conn:
            return alias_records(conn, institutions)

    @contextmanager
    def scan_physicians(self, codes: Iterable[str] | None = None) -> Iterator[PhysicianScan]:
        """A read of every physician (or those named) and their facts, on a connection held
        until the ``with`` ends (``rules.store.physician_scan``): what both syncs publish from."""
        with self.engine.connect() as conn:
            scan = PhysicianScan(conn, None if codes is None else list(codes))
            try:
                yield scan
            finally:
                scan.close()

    def physician_facts(self, codes: Iterable[str] | None = None) -> Iterator[PhysicianFacts]:
        """Facts of every physician (or those named), in code order, revoked rows removed."""
        with self.scan_physicians(codes) as scan:
            for code, rows in scan.physicians():
                yield scan.facts(code, rows)

    def sanction_facts(self, conn: Connection, codes: Iterable[str]) -> dict[str, PhysicianFacts]:
        """Violations and sanctions (not revoked) of these physicians on ``conn``, for the import's ban check."""
        wanted = sorted(set(codes))
        sparse = read_sparse(conn, wanted, revoked_targets(conn), sanctions_only=True)
        return {code: sparse.facts(code) for code in wanted}

    def revoked_ids(self) -> set[str]:
        """Ids of every violation, sanction or institution sanction annulled."""
        with self.engine.connect() as conn:
            return set(revoked_targets(conn))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # 16 KiB pages for a new file (one made before keeps its own until VACUUM): a WITHOUT ROWID row
    # past ~1 KB of a 4 KiB page spills into overflow pages, and an archived decision's row holds its
    # lines (a 20-line claim's ~1.6 KB: 311 bytes a line on disk at 4 KiB, 177 at 16 KiB; BENCHMARKS.md).
    cur.execute("PRAGMA page_size=16384")
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the sync) never block an import
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
