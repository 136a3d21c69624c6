"""Schema migrations: the revisions build exactly ``rules.store.scans.metadata``, on PostgreSQL and SQLite."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.check.core import ClaimResult, DecidedLine
from gateway.decisionlog.entries import decision_entry, parse_entry
from rules.errors import StoreError
from rules.store.archive.chain import DECISION_FIELDS, LINE_FIELDS, ArchivedDecision
from rules.store.migrate import BASELINE, _config, current_revision, head_revision, upgrade
from rules.store.scans import Store, metadata
from rules.store.schema import decision_days, decisions


def _tables(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def _differences(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


def test_upgrade_of_an_empty_store_builds_exactly_the_metadata(store: Store) -> None:
    """``store`` is already initialised by the fixture: on PostgreSQL, an empty schema upgraded to head."""
    assert _tables(store) == set(metadata.tables)
    assert _differences(store) == []
    with store.engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_init_is_idempotent(store: Store) -> None:
    assert store.init() == (head_revision(), head_revision())
    store.check()


def test_downgrade_to_base_and_back(store: Store) -> None:
    with store.engine.begin() as conn:
        command.downgrade(_config(conn), "base")
    assert _tables(store) == set()
    upgrade(store.engine)
    assert _differences(store) == []


#: The tables a store made before migrations has: revision 0001's.
LEGACY = ("institutions", "institution_sanctions", "physicians", "agreements", "violations", "sanctions",
          "restoration_requests", "credits", "revocations", "changes")


def test_a_store_made_before_migrations_is_stamped_not_recreated(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'legacy.db'}")
    metadata.create_all(store.engine, tables=[metadata.tables[name] for name in LEGACY])
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO physicians (code, name) VALUES ('D1', 'x')"))
    assert store.init() == (BASELINE, head_revision())
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM physicians")).scalar_one() == 1
    assert _differences(store) == []
    store.dispose()


def test_upgrade_from_0001_adds_appeals_and_notices(store: Store) -> None:
    with store.engine.begin() as conn:
        command.downgrade(_config(conn), BASELINE)
    assert _tables(store) == set(LEGACY)
    assert upgrade(store.engine, "0002") == (BASELINE, "0002")
    assert _tables(store) == {*LEGACY, "appeals", "notices"}
    assert upgrade(store.engine) == ("0002", head_revision())
    assert _differences(store) == []


def test_check_tells_to_run_init_on_an_unversioned_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'legacy.db'}")
    # What create_all made then: the tables of the baseline, not the later revisions' (the archive's)
    metadata.create_all(store.engine, tables=[metadata.tables[name] for name in LEGACY])
    with pytest.raises(StoreError, match="drgate store init"):
        store.check()
    store.dispose()


def test_check_tells_to_run_init_on_an_empty_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreError, match="drgate store init"):
        store.check()
    store.dispose()


def test_migrations_ship_inside_the_package() -> None:
    from importlib import resources

    versions = resources.files("rules.store") / "migrations" / "versions"
    assert any(p.name.startswith(f"{BASELINE}_") for p in versions.iterdir())


def test_upgrade_from_0004_chains_the_feedback_archived_before(store: Store) -> None:
    """Feedback archived before revision 0005 had no chain: the upgrade chains it, verify then holds."""
    from rules.store.archive.reads import ArchiveReader

    with store.engine.begin() as conn:
        command.downgrade(_config(conn), "0004")
        for n, day in enumerate(("2026-11-30", "2026-12-01", "2026-12-01")):
            conn.execute(sa.text("INSERT INTO decision_feedback (feedback_id, decision_id, day, received_at, front, "
                                 "caller, body) VALUES (:f, 'd-1', :day, :at, 'nhsa3103', NULL, '{}')"),
                         {"f": f"f-{n}", "day": day, "at": 1764500000000 + n})
    assert upgrade(store.engine) == ("0004", head_revision())
    assert _differences(store) == []
    reader = ArchiveReader(store.engine)
    assert reader.verify().mismatch is None
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE decision_feedback SET body = '{\"way\": \"modify\"}' WHERE feedback_id = 'f-2'"))
    mismatch = reader.verify().mismatch
    assert mismatch is not None and (mismatch.kind, mismatch.decision_id) == ("feedback", "f-2")


def _archived_by_0006(conn: sa.Connection, dialect: str, days: list[date]) -> list[ArchivedDecision]:
    """Decisions archived as revision 0006 kept them (a row a line), their chain computed as it was then."""
    lines_0006 = sa.Table("decision_lines", sa.MetaData(), sa.Column("day", sa.Date), sa.Column("decision_id"),
                          sa.Column("n"), sa.Column("line_id"), sa.Column("physician_code"),
                          sa.Column("resolved_code"), sa.Column("service_day", sa.Date), sa.Column("decision"),
                          sa.Column("reason"), sa.Column("basis"), sa.Column("until", sa.Date), sa.Column("flags"),
                          sa.Column("would_reject"), sa.Column("refs"), sa.Column("ban_until", sa.Date))
    dated = {"day", "service_day", "until", "ban_until", "service_from", "service_to"}
    archived = []
    for d, day in enumerate(days):
        if dialect == "postgresql":
            for table in ("decisions", "decision_lines", "decision_grounds"):
                conn.execute(sa.text(f'CREATE TABLE "{table}_{day:%Y%m%d}" PARTITION OF "{table}" FOR VALUES '
                                     f"FROM ('{day}') TO ('{day + timedelta(1)}')"))
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()
        head = hashlib.sha256(f"drgate-decisions:{day.isoformat()}".encode()).hexdigest()
        for i in range(3):
            rows = [DecidedLine("1", "D0001", "pass", "ok", None, None, [], None),
                    DecidedLine("2", "D0002", "reject", "terminated", "衢州 第二十一条", None, [], None,
                                "2029-03-02" if i == 1 else None),
                    DecidedLine("3", "D0001", "pass", "ok", None, None, ["stale"], None)]
            result = ClaimResult(f"C-{d}-{i}", "partial", f"id-{d}-{i}", {"version": 3}, True, rows)
            parsed = parse_entry(decision_entry(at + i, result, "v1", None))
            assert isinstance(parsed, ArchivedDecision)
            digest = hashlib.sha256(orjson.dumps([parsed.decision, [r[2:] if r[-1] is not None else r[2:-1]
                                                                   for r in parsed.lines], []])).hexdigest()
            head = hashlib.sha256(f"{head}{digest}".encode()).hexdigest()
            values = dict(zip(DECISION_FIELDS, parsed.decision, strict=True))
            conn.execute(decisions.insert().values(
                {**{k: date.fromisoformat(v) if k in dated and v else v for k, v in values.items()},
                 "seq": i + 1, "chain": head}))
            conn.execute(lines_0006.insert(), [{k: date.fromisoformat(v) if k in dated and v else v
                                                for k, v in zip(LINE_FIELDS, r, strict=True)} for r in parsed.lines])
            archived.append(parsed)
        conn.execute(decision_days.insert().values(day=day, count=3, head=head, feedback_count=0))
    return archived


def test_upgrade_from_0006_packs_the_lines_archived_before(store: Store) -> None:
    """Lines archived a row each (revision 0006) are packed into their decision's row: every chain still
    verifies, a lookup shows the same lines, the search by physician finds each decision once, and a
    line altered after the upgrade is named."""
    from rules.store.archive.reads import ArchiveReader

    days, ahead = [date(2026, 11, 30), date(2026, 12, 1)], date(2026, 12, 2)
    with store.engine.begin() as conn:
        command.downgrade(_config(conn), "0006")
        archived = _archived_by_0006(conn, store.dialect, days)
        if store.dialect == "postgresql":  # a day the archiver made partitions for ahead: no decisions yet
            conn.execute(sa.text(f"CREATE TABLE decisions_{ahead:%Y%m%d} PARTITION OF decisions "
                                 f"FOR VALUES FROM ('{ahead}') TO ('{ahead + timedelta(1)}')"))
    assert upgrade(store.engine) == ("0006", head_revision())
    partitions = {f"{t}_{day:%Y%m%d}" for t in ("decisions", "decision_physicians", "decision_grounds")
                  for day in (*days, ahead)}
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            assert f"decision_physicians_{ahead:%Y%m%d}" in sa.inspect(conn).get_table_names()
    assert [d for d in _differences(store)
            if not (isinstance(d, tuple) and d[0] in ("remove_table", "remove_index")
                    and (d[1].name if d[0] == "remove_table" else d[1].table.name) in partitions)] == []
    reader = ArchiveReader(store.engine)
    result = reader.verify()
    assert (result.days, result.decisions, result.mismatch) == (2, 6, None)
    found = reader.decision("id-1-1")
    assert found is not None
    assert [(line["n"], line["physician_code"], line["reason"], line["flags"], line["ban_until"])
            for line in found["lines"]] == [(0, "D0001", "ok", [], None), (1, "D0002", "terminated", [], "2029-03-02"),
                                            (2, "D0001", "ok", ["stale"], None)]
    assert found["lines"][1]["basis"] == "衢州 第二十一条" and found["claim_id"] == "C-1-1"
    page = reader.by_physician("D0001", days[1], days[1])
    assert [d["decision_id"] for d in page.decisions] == [d.decision_id for d in archived[3:]]
    with store.engine.begin() as conn:
        conn.execute(decisions.update().where(decisions.c.decision_id == "id-0-2").values(
            lines=sa.func.replace(decisions.c.lines, '"terminated"', '"ok"')))
    mismatch = reader.verify().mismatch
    assert mismatch is not None and (mismatch.day, mismatch.seq, mismatch.decision_id) == (days[0], 3, "id-0-2")
    with store.engine.begin() as conn:  # and back down: a row a line again
        command.downgrade(_config(conn), "0006")
        assert conn.execute(sa.text("SELECT count(*) FROM decision_lines")).scalar_one() == 18
