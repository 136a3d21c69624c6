"""The import contract (docs/import-format.md): validate all first, name every bad line, all or nothing, idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rules.errors import ImportFileError
from rules.profiles import Profile, load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.schema import agreements, physicians, violations

INST = {"kind": "institution", "code": "H33080200001", "name": "衢州市人民医院", "region": "330802"}
PHYS = {"kind": "physician", "code": "D330802000001", "name": "示例医师"}
AGR = {"kind": "agreement", "physician_code": "D330802000001", "institution_code": "H33080200001",
       "start": "2021-01-01", "end": None}
VIOL = {"kind": "violation", "id": "V-1", "physician_code": "D330802000001", "institution_code": "H33080200001",
        "item": "19.5", "case_id": "K-1", "occurred_on": "2026-03-01", "scored_on": "2026-03-10",
        "basis_type": "audit", "basis_no": "衢医保稽〔2026〕1号"}


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def problems(store: Store, profile: Profile, path: Path) -> list[tuple[int, str]]:
    with pytest.raises(ImportFileError) as err:
        import_files(store, profile, [path])
    return [(p.line, p.field) for p in err.value.problems]


def test_good_file_imports_every_kind(store: Store, profile: Profile, write_jsonl: Any) -> None:
    rows = [INST, PHYS, AGR, VIOL,
            {"kind": "institution_sanction", "id": "IS-1", "institution_code": "H33080200001", "action": "suspend",
             "start": "2026-01-01", "end": "2026-02-01", "basis": "衢医保〔2026〕2号"},
            {"kind": "sanction", "id": "S-1", "physician_code": "D330802000001", "action": "terminate",
             "start": "2026-05-01", "end": None, "ban_until": "2027-05-01", "basis": "衢医保〔2026〕3号"},
            {"kind": "restoration_request", "physician_code": "D330802000001", "filed_on": "2026-04-20"},
            {"kind": "credit", "physician_code": "D330802000001", "level": "C", "effective_from": "2026-01-01"},
            {"kind": "revocation", "target_id": "V-1", "revoked_on": "2026-06-01", "reason": "复议撤销"}]
    report = import_files(store, profile, [write_jsonl(rows)])
    assert report.total == len(rows)
    assert not report.problems


def test_every_bad_line_is_named_and_nothing_is_imported(store: Store, profile: Profile, write_jsonl: Any) -> None:
    path = write_jsonl([
        INST, PHYS,
        "{not json",
        {**AGR, "start": "2026-02-30"},
        {**PHYS, "code": "D33:0802"},
        {"kind": "doctor", "code": "X"},
        {**VIOL, "item": "99.9"},
        {**AGR, "end": "2020-01-01"},
    ])
    assert problems(store, profile, path) == [(3, "(line)"), (4, "start"), (5, "code"), (6, "kind"), (7, "item"),
                                              (8, "end")]
    assert count(store, physicians) == 0


@pytest.mark.parametrize("missing", ["basis_type", "basis_no"])
def test_violation_without_its_basis_document_is_bad(store: Store, profile: Profile, write_jsonl: Any,
                                                     missing: str) -> None:
    row = {k: v for k, v in VIOL.items() if k != missing}
    assert problems(store, profile, write_jsonl([INST, PHYS, row])) == [(3, missing)]  # 苏州 第十三条


def test_item_unknown_to_the_profile_is_bad(store: Store, write_jsonl: Any) -> None:
    suzhou = load_profile("suzhou-2021-draft")
    assert problems(store, suzhou, write_jsonl([INST, PHYS, VIOL])) == [(3, "item")]  # 19.5 is 衢州's
    assert not import_files(store, suzhou, [write_jsonl([INST, PHYS, {**VIOL, "item": "12.2"}])]).problems


def test_reference_to_an_unknown_physician_is_bad(store: Store, profile: Profile, write_jsonl: Any) -> None:
    assert problems(store, profile, write_jsonl([INST, AGR])) == [(2, "physician_code")]


def test_reference_to_a_physician_already_in_the_store_is_good(store: Store, profile: Profile,
                                                               write_jsonl: Any) -> None:
    import_files(store, profile, [write_jsonl([INST, PHYS])])
    assert not import_files(store, profile, [write_jsonl([AGR])]).problems


def test_skip_invalid_imports_the_good_lines_and_reports_the_rest(store: Store, profile: Profile,
                                                                 write_jsonl: Any) -> None:
    report = import_files(store, profile, [write_jsonl([INST, PHYS, {**PHYS, "code": "bad code"}])],
                          skip_invalid=True)
    assert [(p.line, p.field) for p in report.problems] == [(3, "code")]
    assert count(store, physicians) == 1


def test_reimport_replaces_instead_of_duplicating(store: Store, profile: Profile, write_jsonl: Any) -> None:
    import_files(store, profile, [write_jsonl([INST, PHYS, AGR, VIOL])])
    import_files(store, profile, [write_jsonl([INST, {**PHYS, "name": "改名"}, {**AGR, "end": "2027-01-01"},
                                               {**VIOL, "item": "19.6"}])])
    assert (count(store, physicians), count(store, agreements), count(store, violations)) == (1, 1, 1)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(violations.c.item)).scalar_one() == "19.6"
        assert str(conn.execute(sa.select(agreements.c.end)).scalar_one()) == "2027-01-01"


def test_ban_until_is_for_terminations_only(store: Store, profile: Profile, write_jsonl: Any) -> None:
    row = {"kind": "sanction", "id": "S-2", "physician_code": "D330802000001", "action": "suspend",
           "start": "2026-05-01", "end": "2026-06-01", "ban_until": "2027-05-01", "basis": "x"}
    assert problems(store, profile, write_jsonl([INST, PHYS, row])) == [(3, "ban_until")]


def test_missing_file_is_reported_not_raised_raw(store: Store, profile: Profile, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as err:
        import_files(store, profile, [tmp_path / "absent.jsonl"])
    assert err.value.problems[0].field == "(file)"


def test_import_records_changes_for_the_incremental_sync(store: Store, profile: Profile, write_jsonl: Any) -> None:
    before = store.watermark()
    import_files(store, profile, [write_jsonl([INST, PHYS, AGR])])
    change = store.changes_since(before)
    assert change.physicians == {"D330802000001"}
    assert change.institutions == {"H33080200001"}
