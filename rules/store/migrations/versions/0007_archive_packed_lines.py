"""Decision archive: a decision's lines packed in its row, and a row per distinct physician to search by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``decisions.lines`` holds the decision's lines as one JSON array (``rules.store.archive.chain.
pack_lines``: the bytes its digest covers, so every chain archived before still verifies);
``decision_physicians`` (physician_code, day, decision_id) is the search by physician's index, one
row per distinct code per decision; ``decision_lines`` (a row a line) goes.  The lines archived
before are packed here, a day at a time, and their codes indexed; on PostgreSQL every day
``decisions`` has a partition for (the days ahead the archiver made too) gets its
``decision_physicians`` one.  The downgrade unpacks them again.
A SQLite file made before keeps its 4 KiB pages (new ones get 16 KiB, ``rules.store.scans``): a
20-line decision's row then spills into overflow pages (~310 bytes a line against ~180) until
``PRAGMA page_size=16384; VACUUM`` (outside a transaction: not here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from itertools import groupby
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from rules.store.archive.chain import LINE_FIELDS, pack_lines

revision = "0007"
down_revision = "0006"  # 0006_keys_history
branch_labels = None
depends_on = None

CODE = sa.String(30)
ID = sa.String(64)
BY_DAY = "RANGE (day)"
_CHUNK = 2000  # decisions converted a statement


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "decision_physicians",
        sa.Column("physician_code", CODE, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("decision_id", ID, primary_key=True),
        postgresql_partition_by=BY_DAY,
        sqlite_with_rowid=False,
    )
    op.add_column("decisions", sa.Column("lines", sa.Text, nullable=False, server_default="[]"))
    days = _days(conn)
    _partitions(conn, "decision_physicians", _partitioned(conn) or days)
    names = ", ".join(f'"{c}"' for c in LINE_FIELDS)
    for day in map(_key(conn), days):
        rows = conn.execute(sa.text(f"SELECT {names} FROM decision_lines WHERE day = :d ORDER BY decision_id, n"),
                            {"d": day})
        packed: list[dict[str, Any]] = []
        physicians: list[dict[str, Any]] = []
        for decision_id, lines in groupby(rows, key=lambda r: r.decision_id):
            found = [tuple(_iso(v) for v in r) for r in lines]
            packed.append({"d": day, "i": decision_id, "p": pack_lines(found).decode()})
            physicians.extend({"c": code, "d": day, "i": decision_id}
                              for code in dict.fromkeys(r[LINE_FIELDS.index("physician_code")] for r in found))
        for chunk in _chunks(packed):
            conn.execute(sa.text("UPDATE decisions SET lines = :p WHERE day = :d AND decision_id = :i"), chunk)
        for chunk in _chunks(physicians):
            conn.execute(sa.text("INSERT INTO decision_physicians (physician_code, day, decision_id) "
                                 "VALUES (:c, :d, :i)"), chunk)
    op.drop_table("decision_lines")  # a partitioned table's partitions go with it


def downgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "decision_lines",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("decision_id", ID, primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("line_id", ID, nullable=False),
        sa.Column("physician_code", CODE, nullable=False),
        sa.Column("resolved_code", CODE),
        sa.Column("service_day", sa.Date),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("basis", sa.String(200)),
        sa.Column("until", sa.Date),
        sa.Column("flags", sa.String(64), nullable=False),
        sa.Column("would_reject", sa.String(32)),
        sa.Column("refs", sa.String(400), nullable=False),
        sa.Column("ban_until", sa.Date),
        postgresql_partition_by=BY_DAY,
        sqlite_with_rowid=False,
    )
    op.create_index("ix_decision_lines_physician", "decision_lines", ["physician_code", "day"])
    days = _days(conn)
    _partitions(conn, "decision_lines", _partitioned(conn) or days)
    names = ", ".join(f'"{c}"' for c in LINE_FIELDS)
    marks = ", ".join(f":{c}" for c in LINE_FIELDS)
    width = len(LINE_FIELDS) - 2
    postgres = conn.dialect.name == "postgresql"
    for day in map(_key(conn), days):
        rows: list[dict[str, Any]] = []
        for decision_id, packed in conn.execute(sa.text("SELECT decision_id, lines FROM decisions WHERE day = :d"),
                                                {"d": day}):
            for line in orjson.loads(packed):
                values = (day, decision_id, *line, *([None] * (width - len(line))))
                rows.append({c: _day(c, v) if postgres else v for c, v in zip(LINE_FIELDS, values, strict=True)})
        for chunk in _chunks(rows):
            conn.execute(sa.text(f"INSERT INTO decision_lines ({names}) VALUES ({marks})"), chunk)
    op.drop_column("decisions", "lines")
    op.drop_table("decision_physicians")


def _days(conn: Any) -> list[date]:
    found = conn.execute(sa.text("SELECT DISTINCT day FROM decisions")).scalars()
    return sorted(d if isinstance(d, date) else date.fromisoformat(d) for d in found)


def _partitioned(conn: Any) -> list[date]:
    """PostgreSQL: the days ``decisions`` has partitions for (the archiver makes them days ahead)."""
    if conn.dialect.name != "postgresql":
        return []
    names = conn.execute(sa.text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                 "WHERE i.inhparent = 'decisions'::regclass")).scalars()
    return sorted(date(int(n[-8:-4]), int(n[-4:-2]), int(n[-2:])) for n in names)


def _key(conn: Any) -> Any:
    """A day as the dialect binds it: a ``date`` on PostgreSQL, its ISO text (as stored) on SQLite."""
    return (lambda d: d) if conn.dialect.name == "postgresql" else date.isoformat


def _partitions(conn: Any, table: str, days: list[date]) -> None:
    """PostgreSQL: the day's partition of ``table`` (the archiver's naming, ``<table>_<yyyymmdd>``)."""
    if conn.dialect.name != "postgresql":
        return
    for day in days:
        conn.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{table}_{day:%Y%m%d}" PARTITION OF "{table}" '
                             f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(1)).isoformat()}')"))


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


_DATES = frozenset(("day", "service_day", "until", "ban_until"))


def _day(column: str, v: Any) -> Any:
    """A packed ISO day back to a ``date`` for PostgreSQL's date columns (SQLite takes either)."""
    return date.fromisoformat(v) if column in _DATES and isinstance(v, str) else v


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start:start + _CHUNK]
