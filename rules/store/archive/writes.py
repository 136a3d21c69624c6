"""The decision archive's writes: idempotent inserts with the day's hash chain, partitions, retention.

``Archive.insert`` takes a batch of decisions (and feedback) read from the decision log and
commits them in one transaction, a row a decision with its lines packed (``chain.pack_lines``, the
bytes its digest covers) and a row per distinct physician of its lines (the search's index): a
decision already archived (the same ``decision_id`` on its day) is skipped, so a batch delivered
twice (an archiver killed before its acknowledgement, two archivers claiming the same entries)
is archived once.  Each day's chain head is locked for the
transaction (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer), so concurrent
archivers extend a day's chain one after the other.  Every insert also says ``ON CONFLICT DO
NOTHING``, on both engines.

On PostgreSQL the archive is partitioned by day (``rules.store.schema``): ``ensure_partitions``
creates a day's partitions before its first insert (and the archiver creates the coming days'
ahead); ``drop_before`` drops whole partitions.  On SQLite it deletes the rows.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from itertools import repeat
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rules.store.archive.chain import (
    DECISION_FIELDS,
    GROUND_FIELDS,
    ArchivedDecision,
    ArchivedFeedback,
    Row,
    digest_packed,
    feedback_digest,
    feedback_genesis,
    genesis,
    link,
)
from rules.store.schema import (
    PARTITIONED,
    decision_days,
    decision_feedback,
    decisions,
)

__all__ = ["Archive", "partition_name"]

log = logging.getLogger(__name__)

#: pg_advisory_xact_lock key serialising partition DDL between archivers ("drgdec" in ASCII).
_PARTITION_LOCK = 0x647267646563
_DECISION_COLUMNS = (*DECISION_FIELDS, "seq", "chain", "lines")
_PHYSICIAN_COLUMNS = ("physician_code", "day", "decision_id")
#: SQLite page cache of the archiver's connection, KiB: the decisions' and the physician index's hot pages.
_SQLITE_CACHE_KIB = 65536


_COPY_ESCAPED = re.compile("[\\\\\r\x00]")  # what COPY's text format escapes but its tab and newline, and NUL


def _copy_text(rows: list[Row]) -> str | None:
    """Rows of strings as ``COPY``'s text format, joined in C: psycopg's ``write_row`` cost ~0.3 µs
    a row more, and a 20-line decision has up to 20 physician index rows (measured: ~10% of the
    archiver's CPU on PostgreSQL).  None when a value is not a string or holds what that format
    escapes (backslash, tab, newline, carriage return; NUL it cannot hold): written row by row."""
    try:
        text = "\n".join(map("\t".join, rows))
    except TypeError:
        return None
    if not rows or text.count("\t") != len(rows) * (len(rows[0]) - 1) or text.count("\n") != len(rows) - 1 \
            or _COPY_ESCAPED.search(text) is not None:
        return None
    return text + "\n"


def partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


class Archive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._partitioned: set[date] = set()  # days whose partitions this process knows exist
        self._sql = {"decisions": self._rows_sql("decisions", _DECISION_COLUMNS),
                     "decision_physicians": self._rows_sql("decision_physicians", _PHYSICIAN_COLUMNS),
                     "decision_grounds": self._rows_sql("decision_grounds", GROUND_FIELDS)}

    def _insert(self, table: sa.Table) -> Any:
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def _rows_sql(self, table: str, columns: Sequence[str]) -> str:
        mark = "%s" if self.postgres else "?"
        names = ", ".join(f'"{c}"' for c in columns)
        return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join([mark] * len(columns))}) ON CONFLICT DO NOTHING'

    def _write_rows(self, conn: Connection, table: str, day: date, columns: Sequence[str], rows: list[Row]) -> None:
        """Rows as tuples straight to the driver: SQLAlchemy's per-value processing cost more than
        SQLite's inserts (measured: 2.1 s of 4.4 s for 60,000 lines).  On PostgreSQL every table is
        copied (``COPY``) into the day's partition itself (no routing of each row): only decisions
        this transaction found not archived, under the day's lock, and their physicians and grounds,
        so no conflict can arise there."""
        raw: Any = conn.connection.dbapi_connection
        with contextlib.closing(raw.cursor()) as cursor:
            if self.postgres:
                names = ", ".join(f'"{c}"' for c in columns)
                with cursor.copy(f'COPY "{partition_name(table, day)}" ({names}) FROM STDIN') as copy:
                    text = _copy_text(rows)
                    if text is not None:
                        copy.write(text)
                    else:
                        for row in rows:
                            copy.write_row(row)
            else:
                cursor.executemany(self._sql[table], rows)

    def _archived(self, conn: Connection, day: date, ids: list[str]) -> set[str]:
        """Which of ``ids`` the day holds already: one parameter for them all (an array on PostgreSQL,
        JSON on SQLite), where an ``IN`` of 2,000 bound values cost a third of a 1-line batch's CPU."""
        raw: Any = conn.connection.dbapi_connection
        with contextlib.closing(raw.cursor()) as cursor:
            if self.postgres:
                cursor.execute(f'SELECT decision_id FROM "{partition_name("decisions", day)}" '
                               "WHERE decision_id = ANY(%s)", (ids,))
            else:
                cursor.execute("SELECT decision_id FROM decisions WHERE day = ? AND decision_id IN "
                               "(SELECT value FROM json_each(?))", (day.isoformat(), orjson.dumps(ids).decode()))
            return {row[0] for row in cursor.fetchall()}

    # -- partitions (PostgreSQL) ---------------------------------------------------------------

    def ensure_partitions(self, days: Iterable[date]) -> None:
        """Create the partitions of each day not known to exist (no-op on SQLite)."""
        wanted = sorted(set(days) - self._partitioned)
        if not self.postgres or not wanted:
            self._partitioned.update(wanted)
            return
        with self.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PARTITION_LOCK})
            for day in wanted:
                bounds = f"FROM ('{day.isoformat()}') TO ('{(day + timedelta(1)).isoformat()}')"
                for table in PARTITIONED:
                    conn.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{partition_name(table.name, day)}" '
                                         f'PARTITION OF "{table.name}" FOR VALUES {bounds}'))
        self._partitioned.update(wanted)

    def partition_days(self) -> list[date]:
        """Days with partitions (PostgreSQL) or rows (SQLite), oldest first."""
        with self.engine.connect() as conn:
            if self.postgres:
                names = conn.execute(sa.text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'decisions'::regclass")).scalars()
                return sorted(date(int(n[-8:-4]), int(n[-4:-2]), int(n[-2:])) for n in names)
            return sorted(set(conn.execute(sa.select(decisions.c.day).distinct()).scalars()))

    # -- writes ----------------------------------------------------------------------------

    def insert(self, batch: Sequence[ArchivedDecision], feedback: Sequence[ArchivedFeedback] = ()) -> tuple[int, int]:
        """Archive the decisions not archived yet and the feedback; (decisions, lines) that were new."""
        by_day: dict[date, list[ArchivedDecision]] = defaultdict(list)
        for d in batch:
            by_day[d.day].append(d)
        feedback_by_day: dict[date, list[ArchivedFeedback]] = defaultdict(list)
        for f in feedback:
            feedback_by_day[f.row["day"]].append(f)
        self.ensure_partitions(by_day)
        added = lines = 0
        with self.engine.begin() as conn:
            if not self.postgres:  # the B-trees' pages a batch touches stay in memory (default: 2 MB)
                conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
            for day in sorted(by_day.keys() | feedback_by_day.keys()):  # one order for every archiver: no lock cycle
                count, head, feedback_count, feedback_head = self._lock_day(conn, day)
                new, new_lines, count, head = self._insert_decisions(conn, day, by_day.get(day, []), count, head)
                new_feedback, feedback_head = self._insert_feedback(conn, feedback_by_day.get(day, []),
                                                                    feedback_count, feedback_head or
                                                                    feedback_genesis(day))
                if new or new_feedback:
                    conn.execute(decision_days.update().where(decision_days.c.day == day).values(
                        count=count, head=head, feedback_count=feedback_count + new_feedback,
                        feedback_head=feedback_head))
                added, lines = added + new, lines + new_lines
        return added, lines

    def _lock_day(self, conn: Connection, day: date) -> tuple[int, str, int, str | None]:
        """The day's chain heads, locked until the commit (decisions' and feedback's)."""
        # A write first: SQLite takes its write lock here rather than failing to upgrade a read.
        conn.execute(self._insert(decision_days), [{"day": day, "count": 0, "head": genesis(day), "feedback_count": 0}])
        c = decision_days.c
        head_q = sa.select(c.count, c.head, c.feedback_count, c.feedback_head).where(c.day == day)
        count, head, feedback_count, feedback_head = conn.execute(
            head_q.with_for_update() if self.postgres else head_q).one()
        return count, head, feedback_count, feedback_head

    def _insert_decisions(self, conn: Connection, day: date, batch: list[ArchivedDecision], count: int,
                          head: str) -> tuple[int, int, int, str]:
        """(decisions, lines) new, and the chain's length and head after them."""
        if not batch:
            return 0, 0, count, head
        ids = [d.decision_id for d in batch]
        known = self._archived(conn, day, ids)
        rows: list[Row] = []
        physicians: list[Row] = []
        grounds: list[Row] = []
        lines = 0
        iso = day.isoformat()
        for d in batch:
            key = d.decision_id
            if key in known:
                continue
            known.add(key)
            count += 1
            packed = d.packed
            head = link(head, digest_packed(d.decision, packed, d.grounds))
            rows.append((*d.decision, count, head, packed.decode()))
            # One index row per distinct code (a claim's lines mostly share a few physicians), built
            # in C: generators here cost as much as SQLite's inserts.
            codes = d.physicians
            physicians.extend(zip(codes, repeat(iso, len(codes)), repeat(key, len(codes)), strict=True))
            lines += d.line_count
            grounds.extend(d.grounds)
        if not rows:
            return 0, 0, count, head
        self._write_rows(conn, "decisions", day, _DECISION_COLUMNS, rows)
        if physicians:  # in key order: the B-tree's pages are visited once each (measured: ~12% less CPU)
            physicians.sort()
            self._write_rows(conn, "decision_physicians", day, _PHYSICIAN_COLUMNS, physicians)
        if grounds:
            self._write_rows(conn, "decision_grounds", day, GROUND_FIELDS, grounds)
        return len(rows), lines, count, head

    def _insert_feedback(self, conn: Connection, batch: list[ArchivedFeedback], count: int,
                         head: str) -> tuple[int, str]:
        """Feedback not archived yet, chained after the day's; (feedback new, the chain's head)."""
        if not batch:
            return 0, head
        known = set(conn.execute(sa.select(decision_feedback.c.feedback_id).where(
            decision_feedback.c.feedback_id.in_([f.row["feedback_id"] for f in batch]))).scalars())
        rows: list[dict[str, Any]] = []
        for f in batch:
            if f.row["feedback_id"] in known:
                continue
            known.add(f.row["feedback_id"])
            head = link(head, feedback_digest(f.row))
            rows.append({**f.row, "seq": count + len(rows) + 1, "chain": head})
        if rows:
            conn.execute(self._insert(decision_feedback), rows)
        return len(rows), head

    # -- retention ---------------------------------------------------------------------------

    def drop_before(self, cutoff: date) -> list[date]:
        """Remove every archived day before ``cutoff``: its partitions, chain head and feedback."""
        days = [d for d in self.partition_days() if d < cutoff]
        with self.engine.begin() as conn:
            if self.postgres:
                for day in days:
                    for table in reversed(PARTITIONED):
                        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{partition_name(table.name, day)}"'))
            else:
                for table in PARTITIONED:
                    conn.execute(table.delete().where(table.c.day < cutoff))
            conn.execute(decision_days.delete().where(decision_days.c.day < cutoff))
            conn.execute(decision_feedback.delete().where(decision_feedback.c.day < cutoff))
        self._partitioned.difference_update(days)
        if days:
            log.info("decision archive: dropped %d day(s) before %s", len(days), cutoff)
        return days
