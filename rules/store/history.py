"""Every version of every record: who changed it, when and why (``record_history``).

The store's tables hold the current version of each record, and the rules engine reads only
those.  Each write of the import (``rules.store.importer``) and of the admin API goes through
``record_versions`` in the same transaction, before the rows are replaced: a record written with
the fields it already has adds nothing (imports stay idempotent); a new one is version 1
(``create``); a changed one the next version (``correct``; a revocation's own record ``revoke``).
A record stored before history existed gets its stored fields kept first, as version 1 ``before``.

``actor`` is ``key:<name>`` for the admin API, ``import:<file>:<line>`` for a file; ``reason`` the
correction's (a revocation carries its own).  ``physician_history`` reads a physician's, oldest first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rules.store.rows import TABLES
from rules.store.scans import KEYS, Store
from rules.store.schema import institution_sanctions, metadata, record_history, sanctions, violations

__all__ = ["Version", "key_of", "physician_history", "record_versions", "stored_rows"]

_CHUNK = 900
_BEFORE = "(before history)"


@dataclass(frozen=True, slots=True)
class Version:
    """One record about to be written: its kind, its fields (as the import's row model dumps them), who, why."""

    kind: str
    values: dict[str, Any]
    actor: str
    reason: str | None = None


def key_of(kind: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """The record's natural key: the values of its table's primary key."""
    return tuple(values[k] for k in KEYS[TABLES[kind]])


def _key_text(key: tuple[Any, ...]) -> str:
    return orjson.dumps(list(key)).decode()


def stored_rows(conn: Connection, kind: str, keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The stored fields of the records of ``kind`` with these natural keys (those stored)."""
    table = metadata.tables[TABLES[kind]]
    names = KEYS[table.name]
    wanted = set(keys)
    lead = sorted({k[0] for k in wanted})
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for chunk in (lead[i : i + _CHUNK] for i in range(0, len(lead), _CHUNK)):
        for row in conn.execute(sa.select(table).where(table.c[names[0]].in_(chunk))):
            values = {str(k): v for k, v in row._mapping.items()}  # plain str: orjson refuses subclasses
            key = tuple(values[n] for n in names)
            if key in wanted:
                found[key] = values
    return found


def record_versions(conn: Connection, versions: Sequence[Version], at: datetime | None = None) -> int:
    """Keep a version of each record that changes; call it before the rows are written.  The count kept."""
    at = at or datetime.now(UTC)
    by_kind: dict[str, list[Version]] = defaultdict(list)
    for v in versions:
        by_kind[v.kind].append(v)
    owners = _owners(conn, versions)
    rows: list[dict[str, Any]] = []
    for kind, batch in by_kind.items():
        stored = stored_rows(conn, kind, (key_of(kind, v.values) for v in batch))
        latest = _latest(conn, kind, [_key_text(key_of(kind, v.values)) for v in batch])
        for v in batch:
            key = key_of(kind, v.values)
            text = _key_text(key)
            before = stored.get(key)
            if before is not None and _body(before) == _body(v.values):
                continue  # the same fields again: nothing changed
            version = latest.get(text, 0)
            if before is not None and version == 0:  # stored before history: keep what it was
                version = 1
                rows.append(_row(kind, text, version, "before", before, _BEFORE, at, None, owners))
            op = "revoke" if kind == "revocation" and before is None else ("create" if before is None else "correct")
            version += 1
            latest[text] = version
            rows.append(_row(kind, text, version, op, v.values, v.actor, at, v.reason, owners))
    for chunk in (rows[i : i + 1000] for i in range(0, len(rows), 1000)):
        conn.execute(record_history.insert(), chunk)
    return sum(1 for r in rows if r["op"] != "before")


def physician_history(store: Store, code: str) -> list[dict[str, Any]]:
    """Every version of every record of the physician ``code``, oldest first."""
    query = sa.select(record_history).where(record_history.c.physician_code == code).order_by(record_history.c.seq)
    with store.engine.connect() as conn:
        found = conn.execute(query).all()
    return [{"kind": r.kind, "key": orjson.loads(r.record_key), "version": r.version, "op": r.op,
             "record": {"kind": r.kind, **orjson.loads(r.body)}, "actor": r.actor,
             "at": _utc(r.at).isoformat(timespec="milliseconds"), "reason": r.reason} for r in found]


def _body(values: dict[str, Any]) -> bytes:
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


def _row(kind: str, key: str, version: int, op: str, values: dict[str, Any], actor: str, at: datetime,
         reason: str | None, owners: dict[str, tuple[str | None, str | None]]) -> dict[str, Any]:
    physician, institution = _whose(kind, values, owners)
    return {"kind": kind, "record_key": key, "version": version, "op": op, "body": _body(values).decode(),
            "physician_code": physician, "institution_code": institution, "actor": actor[:300], "at": at,
            "reason": None if reason is None else reason[:500]}


def _whose(kind: str, values: dict[str, Any],
           owners: dict[str, tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    """(physician, institution) a record belongs to: a revocation belongs to its target's."""
    if kind == "revocation":
        return owners.get(values["target_id"], (None, None))
    physician = values.get("physician_code") or (values["code"] if kind == "physician" else None)
    institution = values.get("institution_code") or (values["code"] if kind == "institution" else None)
    return physician, institution


def _owners(conn: Connection, versions: Sequence[Version]) -> dict[str, tuple[str | None, str | None]]:
    """Target id → (physician, institution) of the violations and sanctions revocations name."""
    targets = sorted({v.values["target_id"] for v in versions if v.kind == "revocation"})
    found: dict[str, tuple[str | None, str | None]] = {}
    for v in versions:  # targets written in the same batch
        if v.kind in ("violation", "sanction"):
            found[v.values["id"]] = (v.values["physician_code"], None)
        elif v.kind == "institution_sanction":
            found[v.values["id"]] = (None, v.values["institution_code"])
    for chunk in (targets[i : i + _CHUNK] for i in range(0, len(targets), _CHUNK)):
        for table in (violations, sanctions):
            for r in conn.execute(sa.select(table.c.id, table.c.physician_code).where(table.c.id.in_(chunk))):
                found.setdefault(r.id, (r.physician_code, None))
        query = sa.select(institution_sanctions.c.id, institution_sanctions.c.institution_code)
        for r in conn.execute(query.where(institution_sanctions.c.id.in_(chunk))):
            found.setdefault(r.id, (None, r.institution_code))
    return found


def _latest(conn: Connection, kind: str, keys: list[str]) -> dict[str, int]:
    """Natural key (JSON) → the last version kept of it."""
    wanted = sorted(set(keys))
    found: dict[str, int] = {}
    for chunk in (wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)):
        query = (sa.select(record_history.c.record_key, sa.func.max(record_history.c.version))
                 .where(record_history.c.kind == kind, record_history.c.record_key.in_(chunk))
                 .group_by(record_history.c.record_key))
        found.update((k, int(n)) for k, n in conn.execute(query))
    return found


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
