"""Decision archive: decisions, their lines and grounds, feedback, and each day's hash chain head.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

On PostgreSQL the three per-decision tables are partitioned by ``day`` (RANGE); the archiver
creates the partitions (``rules.archive_partitions``).  On SQLite they are plain tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"  # 0003_physician_alias
branch_labels = None
depends_on = None

CODE = sa.String(30)
ID = sa.String(64)
BY_DAY = "RANGE (day)"


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("decision_id", ID, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("front", sa.String(16), nullable=False),
        sa.Column("caller", sa.String(64)),
        sa.Column("claim_id", ID, nullable=False),
        sa.Column("mdtrt_ids", sa.String(400)),
        sa.Column("institution_code", CODE),
        sa.Column("service_from", sa.Date),
        sa.Column("service_to", sa.Date),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("enforced", sa.Boolean, nullable=False),
        sa.Column("fail_mode", sa.String(8), nullable=False),
        sa.Column("profile", sa.String(40), nullable=False),
        sa.Column("snapshot_id", ID),
        sa.Column("snapshot_generation", sa.BigInteger),
        sa.Column("snapshot_version", sa.BigInteger),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("chain", sa.String(64), nullable=False),
        postgresql_partition_by=BY_DAY,
        sqlite_with_rowid=False,
    )
    op.create_index("ix_decisions_decision_id", "decisions", ["decision_id"])
    op.create_index("ix_decisions_claim_id", "decisions", ["claim_id"])
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
        postgresql_partition_by=BY_DAY,
        sqlite_with_rowid=False,
    )
    op.create_index("ix_decision_lines_physician", "decision_lines", ["physician_code", "day"])
    op.create_table(
        "decision_grounds",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("decision_id", ID, primary_key=True),
        sa.Column("ref", ID, primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("start", sa.Date),
        sa.Column("end", sa.Date),
        sa.Column("ban_until", sa.Date),
        sa.Column("article", sa.String(200), nullable=False),
        sa.Column("computed", sa.Boolean, nullable=False),
        postgresql_partition_by=BY_DAY,
        sqlite_with_rowid=False,
    )
    op.create_table(
        "decision_feedback",
        sa.Column("feedback_id", ID, primary_key=True),
        sa.Column("decision_id", ID, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("front", sa.String(16), nullable=False),
        sa.Column("caller", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_decision_feedback_decision_id", "decision_feedback", ["decision_id"])
    op.create_index("ix_decision_feedback_day", "decision_feedback", ["day"])
    op.create_table(
        "decision_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("decision_days", "decision_feedback", "decision_grounds", "decision_lines", "decisions"):
        op.drop_table(table)  # a partitioned table's partitions go with it
