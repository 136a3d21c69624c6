"""Scoring store: the initial schema (physicians, agreements, points, sanctions, change log).

Revision ID: 0001
Revises:
Create Date: 2026-11-23

A store created by ``metadata.create_all`` before migrations existed is this revision: ``drgate
store init`` stamps it so and goes on from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CODE = sa.String(30)  # 医保医师代码 / 定点医疗机构代码: 1–30 of [A-Za-z0-9]


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("code", CODE, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
    )
    op.create_table(
        "institution_sanctions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("institution_code", CODE, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date),
        sa.Column("basis", sa.String(200), nullable=False),
    )
    op.create_index("ix_institution_sanctions_institution_code", "institution_sanctions", ["institution_code"])
    op.create_table(
        "physicians",
        sa.Column("code", CODE, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.create_table(
        "agreements",
        sa.Column("physician_code", CODE, primary_key=True),
        sa.Column("institution_code", CODE, primary_key=True),
        sa.Column("start", sa.Date, primary_key=True),
        sa.Column("end", sa.Date),
    )
    op.create_table(
        "violations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("physician_code", CODE, nullable=False),
        sa.Column("institution_code", CODE, nullable=False),
        sa.Column("item", sa.String(10), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("act_id", sa.String(64)),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("scored_on", sa.Date, nullable=False),
        sa.Column("basis_type", sa.String(30), nullable=False),
        sa.Column("basis_no", sa.String(100), nullable=False),
    )
    op.create_index("ix_violations_physician_code", "violations", ["physician_code"])
    op.create_table(
        "sanctions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("physician_code", CODE, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date),
        sa.Column("ban_until", sa.Date),
        sa.Column("basis", sa.String(200), nullable=False),
    )
    op.create_index("ix_sanctions_physician_code", "sanctions", ["physician_code"])
    op.create_table(
        "restoration_requests",
        sa.Column("physician_code", CODE, primary_key=True),
        sa.Column("filed_on", sa.Date, primary_key=True),
    )
    op.create_table(
        "credits",
        sa.Column("physician_code", CODE, primary_key=True),
        sa.Column("effective_from", sa.Date, primary_key=True),
        sa.Column("level", sa.String(1), nullable=False),
    )
    op.create_table(
        "revocations",
        sa.Column("target_id", sa.String(64), primary_key=True),
        sa.Column("revoked_on", sa.Date, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
    )
    op.create_table(
        "changes",  # the incremental sync's watermark is the last seq it published
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("physician_code", CODE),
        sa.Column("institution_code", CODE),
    )


def downgrade() -> None:
    for table in ("changes", "revocations", "credits", "restoration_requests", "sanctions", "violations",
                  "agreements", "physicians", "institution_sanctions", "institutions"):
        op.drop_table(table)
