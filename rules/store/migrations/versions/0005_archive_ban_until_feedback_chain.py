"""Decision archive: a line's ``ban_until``, and feedback chained per day like decisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

``decision_lines.ban_until``: the end of the termination ban a rejected line cited (a line's
digest covers it only when set, so lines archived before keep theirs).  ``decision_feedback``
gets its place in the day's feedback chain (``seq``, ``chain``) and ``decision_days`` the chain's
length and head (``feedback_count``, ``feedback_head``); feedback archived before this revision is
chained here, a day at a time in the order it was received.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

from rules.store.archive.chain import feedback_digest, feedback_genesis, genesis, link

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_FEEDBACK = ("feedback_id", "decision_id", "day", "received_at", "front", "caller", "body")


def upgrade() -> None:
    op.add_column("decision_lines", sa.Column("ban_until", sa.Date))  # a partitioned table's partitions too
    op.add_column("decision_feedback", sa.Column("seq", sa.Integer))
    op.add_column("decision_feedback", sa.Column("chain", sa.String(64)))
    op.add_column("decision_days", sa.Column("feedback_count", sa.Integer, nullable=False, server_default="0"))
    op.add_column("decision_days", sa.Column("feedback_head", sa.String(64)))
    _chain_existing_feedback(op.get_bind())


def _chain_existing_feedback(conn: Any) -> None:
    names = ", ".join(f'"{c}"' for c in _FEEDBACK)
    rows = conn.execute(sa.text(f'SELECT {names} FROM decision_feedback ORDER BY day, received_at, feedback_id'))
    by_day: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    for day, found in by_day.items():
        day_iso = day if isinstance(day, str) else day.isoformat()
        head = feedback_genesis(day_iso)
        for seq, row in enumerate(found, 1):
            head = link(head, feedback_digest(dict(row._mapping)))
            conn.execute(sa.text("UPDATE decision_feedback SET seq = :s, chain = :c WHERE feedback_id = :f"),
                         {"s": seq, "c": head, "f": row.feedback_id})
        updated = conn.execute(sa.text("UPDATE decision_days SET feedback_count = :n, feedback_head = :h "
                                       "WHERE day = :d"), {"n": len(found), "h": head, "d": day})
        if not updated.rowcount:
            conn.execute(sa.text('INSERT INTO decision_days (day, "count", head, feedback_count, feedback_head) '
                                 "VALUES (:d, 0, :g, :n, :h)"),
                         {"d": day, "g": genesis(date.fromisoformat(day_iso)), "n": len(found), "h": head})


def downgrade() -> None:
    op.drop_column("decision_days", "feedback_head")
    op.drop_column("decision_days", "feedback_count")
    op.drop_column("decision_feedback", "chain")
    op.drop_column("decision_feedback", "seq")
    op.drop_column("decision_lines", "ban_until")
