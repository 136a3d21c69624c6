"""What the command line says when the input or the store is bad: one clear line, exit code, no
traceback, and never a name or other personal data of the batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.cli.main import EXIT_FAILED, EXIT_INPUT, main
from gateway.settings import Settings
from rules.store.scans import Store

NAMES = ("张三丰", "李四光")  # the batch's names: in no message


@pytest.fixture(name="env")
def fix_env(settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The CLI's environment pointed at the test's store (SQLite, and PostgreSQL when configured)."""
    monkeypatch.setenv("DRGATE_REDIS_URL", settings.redis_url_value() or "")
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", store.url)
    monkeypatch.setenv("DRGATE_VAR_DIR", settings.var_dir)
    return store


def _physicians(names: list[str]) -> list[dict[str, Any]]:
    return [{"kind": "physician", "code": f"D33080200010{i}", "name": name} for i, name in enumerate(names)]


@pytest.mark.parametrize("name", ["王\x00五", "\x00", "赵六\x00"])
def test_a_name_with_a_nul_byte_is_refused_naming_file_line_and_field(
    env: Store, write_jsonl: Any, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = write_jsonl(_physicians([NAMES[0], name, NAMES[1]]))
    assert main(["store", "import", str(path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert f"{path}:2: name: " in err and "NUL" in err
    assert "Traceback" not in err
    for known in (*NAMES, name):
        assert known not in err
    assert env.count_physicians() == 0  # all or nothing


@pytest.mark.parametrize("row", [
    {"kind": "institution", "code": "H33080200009", "name": "医院\x00", "region": "330802"},
    {"kind": "revocation", "target_id": "S-\x00", "revoked_on": "2026-01-02", "reason": "x"},
])
def test_a_nul_byte_in_any_text_field_is_refused(env: Store, write_jsonl: Any,
                                                 capsys: pytest.CaptureFixture[str], row: dict[str, Any]) -> None:
    field = next(k for k, v in row.items() if isinstance(v, str) and "\x00" in v)
    assert main(["store", "import", str(write_jsonl([row]))]) == EXIT_INPUT
    assert f":1: {field}: " in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["store", "init"], ["store", "import", "FILE"], ["sync"], ["sync", "--full"], ["sync", "--full", "--dry-run"],
    ["rules", "evaluate"], ["seed", "--physicians", "10"], ["demo"],
], ids=lambda argv: " ".join(argv))
def test_a_corrupt_store_file_gives_exit_1_and_one_clear_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    write_jsonl: Any, argv: list[str],
) -> None:
    store = tmp_path / "garbage.db"
    store.write_bytes(b"this is no SQLite file, only garbage \x00\xff" * 200)
    monkeypatch.setenv("DRGATE_REDIS_URL", settings.redis_url_value() or "")
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", f"sqlite:///{store}")
    monkeypatch.setenv("DRGATE_VAR_DIR", settings.var_dir)
    path = write_jsonl(_physicians([NAMES[0]]))
    argv = [str(path) if a == "FILE" else a for a in argv]
    assert main(argv) == EXIT_FAILED
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("drgate: ") and str(store) in err[0] and "not a database" in err[0]
    assert NAMES[0] not in err[0]
