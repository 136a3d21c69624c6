"""The command line: help that explains, errors that say what to do, JSON for scripts, sync metrics."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
import redis

from cache.keys import Keys
from gateway.cli.demo import write_demo_data
from gateway.cli.main import main
from gateway.settings import Settings
from rules.store.migrate import head_revision


@pytest.fixture(name="env")
def fix_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings as a cron job would see them: in the environment."""
    monkeypatch.setenv("DRGATE_REDIS_URL", settings.redis_url_value() or "")
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", settings.store_url_value())
    monkeypatch.setenv("DRGATE_VAR_DIR", settings.var_dir)
    return settings


def _metrics(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_help_explains_every_command_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "serve", "sync", "store", "rules", "seed", "status"):
        assert f"    {command} " in text
    assert "exit codes" in text and "DRGATE_REDIS_URL" in text and "redis+cluster://" in text


def test_sync_help_shows_a_cron_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    assert "*/5 * * * *" in capsys.readouterr().out


def test_store_init_reports_the_revision_as_json(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "init", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out) == {"dialect": "sqlite", "revision_before": None,
                                                     "revision": head_revision()}
    assert main(["store", "init"]) == 0
    assert "nothing to migrate" in capsys.readouterr().out


def test_sync_against_a_store_not_initialised_says_to_init(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 1
    assert "drgate store init" in capsys.readouterr().err


def test_unreachable_redis_says_what_to_check_without_the_password(
    env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.servers import free_port

    monkeypatch.setenv("DRGATE_REDIS_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert main(["store", "init"]) == 0
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "DRGATE_REDIS_URL" in err and "hunter2" not in err and "Traceback" not in err


def test_unreachable_store_says_what_to_check(env: Settings, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from tests.servers import free_port

    monkeypatch.setenv("DRGATE_STORE_URL", f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    assert main(["store", "init"]) == 1
    assert "DRGATE_STORE_URL" in capsys.readouterr().err


def test_sentinel_url_without_service_is_a_configuration_error(
    env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRGATE_REDIS_URL", "redis+sentinel://127.0.0.1:26379")
    assert main(["store", "init"]) == 0
    assert main(["sync"]) == 2
    assert "service name" in capsys.readouterr().err


def test_sync_writes_textfile_metrics(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["store", "init"])
    main(["store", "import", str(write_demo_data(tmp_path / "demo.jsonl", date.today()))])
    prom = tmp_path / "textfile" / "drgate.prom"
    assert main(["sync", "--full", "--metrics-file", str(prom)]) == 0
    first = _metrics(prom)
    assert first["drgate_sync_success"] == 1
    assert first["drgate_sync_physicians"] == 7
    assert first['drgate_sync_outcome{mode="full",outcome="ok"}'] == 1
    assert first["drgate_sync_last_success_timestamp_seconds"] == first["drgate_sync_last_run_timestamp_seconds"]
    assert "drgate_sync_duration_seconds" in first


def test_failed_sync_keeps_the_last_success_time(env: Settings, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    main(["store", "init"])
    main(["store", "import", str(write_demo_data(tmp_path / "demo.jsonl", date.today()))])
    prom = tmp_path / "drgate.prom"
    monkeypatch.setenv("DRGATE_SYNC_METRICS_FILE", str(prom))
    assert main(["sync", "--full"]) == 0
    succeeded = _metrics(prom)["drgate_sync_last_success_timestamp_seconds"]
    client = redis.Redis.from_url(env.redis_url_value() or "")
    client.set(Keys(env.redis_prefix).lock, "someone-else", px=30_000)
    assert main(["sync"]) == 3
    after = _metrics(prom)
    assert after["drgate_sync_success"] == 0 and after["drgate_sync_exit_code"] == 3
    assert after['drgate_sync_outcome{mode="unknown",outcome="locked"}'] == 1
    assert after["drgate_sync_last_success_timestamp_seconds"] == succeeded
    client.delete(Keys(env.redis_prefix).lock)
    client.close()


def test_seed_json_prints_one_object_and_no_progress(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--physicians", "500", "--json"]) == 0
    out = capsys.readouterr()
    assert orjson.loads(out.out) == {"physicians": 500, "dialect": "sqlite"}
    assert "━" not in out.err


def test_import_json_report(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["store", "init"])
    capsys.readouterr()
    assert main(["store", "import", "--json", str(write_demo_data(tmp_path / "d.jsonl", date.today()))]) == 0
    assert orjson.loads(capsys.readouterr().out)["imported"]["physician"] == 7
