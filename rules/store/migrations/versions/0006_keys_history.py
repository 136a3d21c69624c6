"""Scoring store: api_keys (callers' keys by digest, with a role) and record_history (every version).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"  # 0005_archive_ban_until_feedback_chain
branch_labels = None
depends_on = None

CODE = sa.String(30)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
    )
    op.create_table(
        "record_history",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("record_key", sa.String(400), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("physician_code", CODE),
        sa.Column("institution_code", CODE),
        sa.Column("op", sa.String(10), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.UniqueConstraint("kind", "record_key", "version", name="uq_record_history_version"),
    )
    op.create_index("ix_record_history_physician", "record_history", ["physician_code", "seq"])


def downgrade() -> None:
    op.drop_index("ix_record_history_physician", table_name="record_history")
    op.drop_table("record_history")
    op.drop_table("api_keys")
