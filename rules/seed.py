"""Synthetic scoring-store data at scale (`drgate seed --physicians N`), for benchmarks and staging.

Deterministic: physician ``i`` always gets the same state, so a load test knows every expected
decision (``expected_reason``).  The mix: most physicians active at one institution, 10% at two
(multi-site), 2% suspended, 0.5% terminated, 0.3% credit D, 1% credit C; every 200th
institution suspended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

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
    """Replace the store's content with ``physicians`` seeded physicians; returns the count.

    A bulk load: rows are tuples of ISO strings, built a chunk at a time and written through the
    DBAPI in one transaction (``executemany`` on SQLite, ``COPY`` on PostgreSQL).  Going through
    SQLAlchemy's per-row parameter processing cost ~3 µs a row: most of 47 s at 1,000,000.
    """
    store.init()
    institutions = physicians // PER_INSTITUTION + 2
    inst_codes = [institution_code(j) for j in range(institutions)]
    with store.engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())
    with _bulk(store) as write:
        write("institutions", ("code", "name", "region"),
              [(code, f"定点医疗机构{j}", "330802") for j, code in enumerate(inst_codes)])
        write("institution_sanctions", ("id", "institution_code", "action", "start", "end", "basis"),
              [(f"IS-seed-{j}", code, "suspend", _SUSPENDED_FROM, None, "seed")
               for j, code in enumerate(inst_codes) if institution_suspended(j)])
        for first in range(0, physicians, _CHUNK):
            rows = _chunk_rows(first, min(first + _CHUNK, physicians), inst_codes)
            for table, columns in _COLUMNS.items():
                write(table, columns, rows[table])
            if progress:
                progress(min(first + _CHUNK, physicians))
    return physicians


_CHUNK = 100_000
_START, _SUSPENDED_FROM, _BAN_UNTIL = SEED_START.isoformat(), SUSPENDED_FROM.isoformat(), "2026-01-01"
_COLUMNS: dict[str, tuple[str, ...]] = {
    "physicians": ("code", "name"),
    "agreements": ("physician_code", "institution_code", "start", "end"),
    "sanctions": ("id", "physician_code", "action", "start", "end", "ban_until", "basis"),
    "credits": ("physician_code", "level", "effective_from"),
}


def _chunk_rows(first: int, stop: int, inst_codes: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of physicians ``first``..``stop - 1``, as ``_rows`` describes them, in key order."""
    phys: list[tuple[Any, ...]] = []
    agreements: list[tuple[Any, ...]] = []
    sanctions: list[tuple[Any, ...]] = []
    credits: list[tuple[Any, ...]] = []
    start = _START
    for i in range(first, stop):
        code = physician_code(i)
        phys.append((code, f"医师{i}"))
        home = i // PER_INSTITUTION
        agreements.append((code, inst_codes[home], start, None))
        if i % 10 == 0:
            agreements.append((code, inst_codes[home + 1], start, None))
        kind = _kind(i)
        if kind == "active":
            continue
        if kind == "suspended":
            sanctions.append((f"S-seed-{i}", code, "settlement_suspend", _SUSPENDED_FROM, None, None, "seed"))
        elif kind == "terminated":
            sanctions.append((f"T-seed-{i}", code, "terminate", _SUSPENDED_FROM, None, _BAN_UNTIL, "seed"))
        else:
            credits.append((code, "D" if kind == "disqualified" else "C", _SUSPENDED_FROM))
    return {"physicians": phys, "agreements": agreements, "sanctions": sanctions, "credits": credits}


@contextmanager
def _bulk(store: Store) -> Iterator[Callable[[str, tuple[str, ...], list[tuple[Any, ...]]], None]]:
    """A writer of rows straight to the DBAPI connection, committed once at the end."""
    raw = store.engine.raw_connection()
    dbapi: Any = raw.driver_connection
    postgres = store.dialect == "postgresql"
    cur = dbapi.cursor()
    if not postgres:
        # Durability of this one transaction does not matter: a seed that dies is run again.
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-262144")  # 256 MiB of pages: the key indexes stay in memory

    def write(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        if postgres:
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)

    try:
        yield write
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        if not postgres:
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-2000")
        cur.close()
        raw.close()
