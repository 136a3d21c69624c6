"""Schema migrations: the revisions build exactly ``rules.store.scans.metadata``, on PostgreSQL and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rules.errors import StoreError
from rules.store.migrate import BASELINE, _config, current_revision, head_revision, upgrade
from rules.store.scans import Store, metadata


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
