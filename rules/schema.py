"""The scoring store's tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The Alembic revisions under ``rules/migrations`` must build exactly this ``metadata``
(``tests/test_migrations.py`` compares them).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "KEYS", "agreements", "appeals", "changes", "credits", "institution_sanctions", "institutions", "metadata",
    "notices", "physician_aliases", "physicians", "restoration_requests", "revocations", "sanctions", "violations",
]

metadata = sa.MetaData()
_code = sa.String(30)

institutions = sa.Table(
    "institutions",
    metadata,
    sa.Column("code", _code, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
)
institution_sanctions = sa.Table(
    "institution_sanctions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("institution_code", _code, nullable=False, index=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("end", sa.Date),
    sa.Column("basis", sa.String(200), nullable=False),
)
physicians = sa.Table(
    "physicians",
    metadata,
    sa.Column("code", _code, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    # Clustered on the code: one B-tree instead of a rowid table plus a key index (the seed and
    # the full sync's ordered scan at 1,000,000 rows). PostgreSQL ignores it.
    sqlite_with_rowid=False,
)
agreements = sa.Table(
    "agreements",
    metadata,
    sa.Column("physician_code", _code, primary_key=True),
    sa.Column("institution_code", _code, primary_key=True),
    sa.Column("start", sa.Date, primary_key=True),
    sa.Column("end", sa.Date),
    sqlite_with_rowid=False,  # clustered by physician: the full sync reads them in that order
)
violations = sa.Table(
    "violations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("physician_code", _code, nullable=False, index=True),
    sa.Column("institution_code", _code, nullable=False),
    sa.Column("item", sa.String(10), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("act_id", sa.String(64)),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("scored_on", sa.Date, nullable=False),
    sa.Column("basis_type", sa.String(30), nullable=False),
    sa.Column("basis_no", sa.String(100), nullable=False),
)
sanctions = sa.Table(
    "sanctions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("physician_code", _code, nullable=False, index=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("end", sa.Date),
    sa.Column("ban_until", sa.Date),
    sa.Column("basis", sa.String(200), nullable=False),
)
restoration_requests = sa.Table(
    "restoration_requests",
    metadata,
    sa.Column("physician_code", _code, primary_key=True),
    sa.Column("filed_on", sa.Date, primary_key=True),
)
credits = sa.Table(
    "credits",
    metadata,
    sa.Column("physician_code", _code, primary_key=True),
    sa.Column("effective_from", sa.Date, primary_key=True),
    sa.Column("level", sa.String(1), nullable=False),
)
revocations = sa.Table(
    "revocations",
    metadata,
    sa.Column("target_id", sa.String(64), primary_key=True),
    sa.Column("revoked_on", sa.Date, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
)
# An institution's own doctor codes → 医保医师代码 (rules/aliases.py); local_code upper-cased.
physician_aliases = sa.Table(
    "physician_aliases",
    metadata,
    sa.Column("institution_code", _code, primary_key=True),
    sa.Column("local_code", _code, primary_key=True),
    sa.Column("start", sa.Date, primary_key=True),
    sa.Column("physician_code", _code, nullable=False),
    sa.Column("end", sa.Date),
)
# 衢州 第二十七条: an appeal against a violation or a sanction; an upheld one revokes its target.
# physician_code is the target's, filled in by the import.
appeals = sa.Table(
    "appeals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("physician_code", _code, nullable=False, index=True),
    sa.Column("target_id", sa.String(64), nullable=False),
    sa.Column("filed_on", sa.Date, nullable=False),
    sa.Column("decided_on", sa.Date),
    sa.Column("outcome", sa.String(10)),  # upheld | rejected, with decided_on
)
# Served notices (衢州 第二十一条 书面或短信告知, 苏州 第十五条、第十六条): the id is the derived
# notice's, ``{cause}@{recipient}`` (rules.notices).
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("physician_code", _code, nullable=False, index=True),
    sa.Column("served_on", sa.Date, nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),  # written | sms | system
)
# Change log: the incremental sync publishes the physicians (or institutions) touched after
# the watermark it last published.
changes = sa.Table(
    "changes",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("physician_code", _code),
    sa.Column("institution_code", _code),
)

#: Natural keys of each table, for idempotent upserts.
KEYS: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.primary_key.columns) for t in metadata.sorted_tables
}

# The decision archive's tables join this metadata (one schema, one migration history).
from rules import archive_schema  # noqa: E402, F401
