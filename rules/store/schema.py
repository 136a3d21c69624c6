"""The scoring store's tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The Alembic revisions under ``rules/store/migrations`` must build exactly this ``metadata``
(``tests/test_migrations.py`` compares them).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "KEYS", "ROLES", "agreements", "api_keys", "appeals", "changes", "credits", "institution_sanctions",
    "institutions", "metadata", "notices", "physician_aliases", "physicians", "record_history",
    "restoration_requests", "revocations", "sanctions", "violations",
    "ARCHIVE_TABLES", "PARTITIONED", "decision_days", "decision_feedback", "decision_grounds", "decision_physicians",
    "decisions",
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
# An institution's own doctor codes → 医保医师代码 (rules/store/aliases.py); local_code upper-cased.
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

# The gateway's callers (gateway.api.roles): a key is known by its SHA-256, never stored itself;
# a revoked key keeps its row (revoked_at), so who held a name once stays on record.
#: The roles a key may have, from the settlement pipeline's to the agency's administrator's.
ROLES = ("settlement", "helpdesk", "officer", "admin")
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),  # SHA-256 of the key, hex
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # one of ROLES
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("name", name="uq_api_keys_name"),
)
# Every version of every record of the import contract (rules.store.history): the store's tables
# hold the current one, read by the rules engine; this one keeps who changed what, when and why.
record_history = sa.Table(
    "record_history",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(24), nullable=False),  # the import's record kind
    sa.Column("record_key", sa.String(400), nullable=False),  # its natural key, JSON
    sa.Column("version", sa.Integer, nullable=False),  # from 1
    sa.Column("physician_code", _code),  # whose record it is (a revocation: its target's physician)
    sa.Column("institution_code", _code),
    sa.Column("op", sa.String(10), nullable=False),  # create | correct | revoke | before (kept from before history)
    sa.Column("body", sa.Text, nullable=False),  # the version's fields, JSON, as the import takes them
    sa.Column("actor", sa.String(300), nullable=False),  # key:<name>, or import:<file>:<line>
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.UniqueConstraint("kind", "record_key", "version", name="uq_record_history_version"),
    sa.Index("ix_record_history_physician", "physician_code", "seq"),
)

#: Natural keys of each table, for idempotent upserts.
KEYS: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.primary_key.columns) for t in metadata.sorted_tables
}


# The decision archive: what ``drgate decisions archive`` moves out of the decision log
# (``gateway.decisionlog.entries``): a row a decision holding its lines packed, a row per distinct
# physician of a decision (the search's index), a row per record that decided a line (``grounds``,
# as the snapshot held it), the feedback callers sent on decisions, and a row a day holding its hash
# chain's head.  A row a line (revisions 0004-0006) was the archiver's cost: one row a decision
# divides the rows written by the lines a claim (BENCHMARKS.md).
#
# On PostgreSQL ``decisions``, ``decision_physicians`` and ``decision_grounds`` are partitioned by ``day``
# (the Asia/Shanghai day the decision was received): the archiver creates each day's partitions
# ahead, and retention drops them (``DROP TABLE``, no vacuum).  Every key leads with ``day``, as a
# partitioned table's keys must: a decision always lands on the day of its own ``at``, so
# ``(day, decision_id)`` is as unique as ``decision_id``.

_id = sa.String(64)
BY_DAY = "RANGE (day)"  # PostgreSQL: a partition a received day

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("decision_id", _id, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),  # position in the day's hash chain, from 1
    sa.Column("received_at", sa.BigInteger, nullable=False),  # Unix milliseconds
    sa.Column("front", sa.String(16), nullable=False),
    sa.Column("caller", sa.String(64)),
    sa.Column("claim_id", _id, nullable=False),
    sa.Column("mdtrt_ids", sa.String(400)),  # comma-separated 就诊ID of a national-platform claim
    sa.Column("institution_code", _code),
    sa.Column("service_from", sa.Date),
    sa.Column("service_to", sa.Date),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("enforced", sa.Boolean, nullable=False),
    sa.Column("fail_mode", sa.String(8), nullable=False),
    sa.Column("profile", sa.String(40), nullable=False),
    sa.Column("snapshot_id", _id),
    sa.Column("snapshot_generation", sa.BigInteger),
    sa.Column("snapshot_version", sa.BigInteger),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("chain", sa.String(64), nullable=False),  # sha256(previous chain + this decision's digest)
    # Its lines, packed (revision 0007): a JSON array of one array a line in LINE_FIELDS' order
    # from ``n`` (``rules.store.archive.chain``), the very bytes the decision's digest covers.
    sa.Column("lines", sa.Text, nullable=False, server_default="[]"),
    sa.Index("ix_decisions_decision_id", "decision_id"),
    sa.Index("ix_decisions_claim_id", "claim_id"),
    postgresql_partition_by=BY_DAY,
    sqlite_with_rowid=False,  # SQLite: clustered on the key, one B-tree fewer to write
)
decision_physicians = sa.Table(  # the search by physician's index: a row per distinct code per decision
    "decision_physicians",
    metadata,
    sa.Column("physician_code", _code, primary_key=True),  # as sent on one of the decision's lines
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("decision_id", _id, primary_key=True),
    postgresql_partition_by=BY_DAY,
    sqlite_with_rowid=False,  # SQLite: the key is the row, one B-tree
)
decision_grounds = sa.Table(
    "decision_grounds",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("decision_id", _id, primary_key=True),
    sa.Column("ref", _id, primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),  # sanction | institution_sanction | credit
    sa.Column("action", sa.String(20), nullable=False),  # the sanction's action, or the credit level
    sa.Column("start", sa.Date),
    sa.Column("end", sa.Date),
    sa.Column("ban_until", sa.Date),
    sa.Column("article", sa.String(200), nullable=False),
    sa.Column("computed", sa.Boolean, nullable=False),
    postgresql_partition_by=BY_DAY,
    sqlite_with_rowid=False,  # SQLite: clustered on the key, one B-tree fewer to write
)
decision_feedback = sa.Table(
    "decision_feedback",
    metadata,
    sa.Column("feedback_id", _id, primary_key=True),
    sa.Column("decision_id", _id, nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True),  # received day of the feedback
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("front", sa.String(16), nullable=False),
    sa.Column("caller", sa.String(64)),
    sa.Column("body", sa.Text, nullable=False),  # the caller's report, JSON
    sa.Column("seq", sa.Integer),  # position in the day's feedback chain, from 1 (revision 0005)
    sa.Column("chain", sa.String(64)),  # sha256(previous chain + this feedback's digest)
)
decision_days = sa.Table(
    "decision_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),  # decisions archived that day: the chain's length
    sa.Column("head", sa.String(64), nullable=False),  # the last decision's chain
    sa.Column("feedback_count", sa.Integer, nullable=False, server_default="0"),  # the feedback chain's length
    sa.Column("feedback_head", sa.String(64)),  # its last chain; null: none yet (genesis)
)

#: Tables partitioned by day on PostgreSQL, parents of ``<table>_<yyyymmdd>`` partitions.
PARTITIONED = (decisions, decision_physicians, decision_grounds)
ARCHIVE_TABLES = (*PARTITIONED, decision_feedback, decision_days)
