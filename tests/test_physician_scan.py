"""The physicians scan (``rules.store.physician_scan``), on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests import rows as r


def test_a_scan_stopped_midway_ends_its_read_before_its_connection_closes(
    store: Store, profile: Profile, write_jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_files(store, profile, [write_jsonl([*r.registry(r.PHYSICIAN, r.OTHER), r.agreement("2021-01-01")])])
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    try:
        with store.scan_physicians() as scan:
            physicians = scan.physicians()  # held past the scan, as a sync's stopped loop holds it
            next(physicians)
            raise LookupError("the sync stops here")
    except LookupError:
        pass
    del physicians
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []


def test_a_scan_gives_each_physician_once_in_code_order_with_its_agreements(
    store: Store, profile: Profile, write_jsonl: Any
) -> None:
    import_files(store, profile, [write_jsonl([
        *r.registry(r.OTHER, r.PHYSICIAN), r.agreement("2022-01-01", site=r.SITE_B), r.agreement("2023-01-01"),
    ])])
    with store.scan_physicians() as scan:
        found = [(code, [row[0] for row in rows]) for code, rows in scan.physicians()]
    assert found == [(r.PHYSICIAN, [r.SITE_A, r.SITE_B]), (r.OTHER, [])]
