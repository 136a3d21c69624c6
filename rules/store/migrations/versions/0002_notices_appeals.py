"""Scoring store: appeals (衢州 第二十七条) and served notices (衢州 第二十一条, 苏州 第十五条、第十六条).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CODE = sa.String(30)  # 医保医师代码: 1–30 of [A-Za-z0-9]


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("physician_code", CODE, nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("filed_on", sa.Date, nullable=False),
        sa.Column("decided_on", sa.Date),
        sa.Column("outcome", sa.String(10)),
    )
    op.create_index("ix_appeals_physician_code", "appeals", ["physician_code"])
    op.create_table(
        "notices",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("physician_code", CODE, nullable=False),
        sa.Column("served_on", sa.Date, nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
    )
    op.create_index("ix_notices_physician_code", "notices", ["physician_code"])


def downgrade() -> None:
    op.drop_index("ix_notices_physician_code", "notices")
    op.drop_table("notices")
    op.drop_index("ix_appeals_physician_code", "appeals")
    op.drop_table("appeals")
