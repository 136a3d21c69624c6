"""Scoring store: physician_aliases (an institution's own doctor codes → 医保医师代码).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"  # 0002_notices_appeals
branch_labels = None
depends_on = None

CODE = sa.String(30)


def upgrade() -> None:
    op.create_table(
        "physician_aliases",
        sa.Column("institution_code", CODE, primary_key=True),
        sa.Column("local_code", CODE, primary_key=True),  # upper-cased: matching ignores case
        sa.Column("start", sa.Date, primary_key=True),
        sa.Column("physician_code", CODE, nullable=False),
        sa.Column("end", sa.Date),
    )


def downgrade() -> None:
    op.drop_table("physician_aliases")
