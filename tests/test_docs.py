"""Every command README.md and docs/ show runs as written; exit codes and cron lines agree with the code.

``CHECKLIST`` names every shell block and every inline ``drgate …``/``make …`` command of the pages,
with what the suite does with it: ``RUN`` (executed here, in order, against a temporary store and this
test's Redis prefix), ``SYNOPSIS`` (a usage line: every flag it shows must be in ``--help``), or why it
is not run here (production hosts, staging, the suite itself; each of those is covered elsewhere).
A command added to a page without an entry fails ``test_every_documented_command_is_on_the_checklist``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
import redis as redis_lib

from gateway.cli.main import EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED, EXIT_OK, EXIT_SHRINK, main
from gateway.settings import Settings
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DRGATE = [sys.executable, "-m", "gateway.cli"]

RUN, SYNOPSIS, DEMO, CRON = "run", "synopsis", "run by test_demo_answers_its_curls_and_stops_its_redis", "cron"
PRODUCTION = "needs the production hosts it names (db.internal, systemd, a pushgateway)"
STAGING = "needs a staging gateway; make loadtest runs against a local one in tests/test_loadtest.py"
SUITE = "is this suite, or one of its own targets (lint, fuzz, bench: minutes each)"
ARCHIVE = "needs an archive of decisions; tests/test_archive*.py run these against one"
BENCH_TOOL = "is a benchmark run by hand (figures printed, not asserted; bench.budget's parts in test_bench_apps)"
SERVES = "serves until stopped; tests/test_logs.py and tests/test_metrics.py run it"

#: Executed in this order; each must exit 0.
RUN_ORDER = [
    "drgate store init",
    "drgate store init && drgate seed --physicians 300000 && drgate sync --full",
    "drgate sync",
    "drgate sync --full",
    "drgate sync --full --allow-shrink",
    "drgate sync --allow-shrink",
    "drgate rules evaluate",
    "drgate rules evaluate --json",
    "drgate notices",
    "drgate notices --due",
    "drgate api-key",
    "drgate --help",
]

CHECKLIST: dict[str, str] = {
    **dict.fromkeys(RUN_ORDER, RUN),
    "make run": "is `drgate demo` after building the venv; test_demo_answers_its_curls_and_stops_its_redis runs it",
    "drgate demo": DEMO,
    "make test": SUITE, "make lint": SUITE, "make bench": SUITE, "make fuzz": SUITE,
    "make loadtest": STAGING,
    "make loadtest HOST=http://staging:8000 USERS=50 DURATION=60s P99_MS=50 MAX_FAIL=0.001": STAGING,
    "make loadtest HOST=… PROFILE=step P99_MS=50": STAGING,
    "python -m bench.scale": SUITE,
    "python -m bench.ab --base REV": BENCH_TOOL,
    "python -m bench.budget": BENCH_TOOL,
    "python -m bench.served_ab --base TREE": BENCH_TOOL,
    "python -m bench.stages": BENCH_TOOL,
    "python -m bench.asgi [--app raw|floor|drgate] [--lines N] [--profile]": SUITE,
    "drgate serve": SERVES,
    "drgate sync [--full] [--dry-run] [--allow-shrink] [--wait S] [--json]": SYNOPSIS,
    "drgate sync [--full] [--dry-run] [--allow-shrink] [--wait S] [--metrics-file PATH] [--json]": SYNOPSIS,
    "drgate serve [--host H] [--port P] [--workers N]": SYNOPSIS,
    "drgate serve [--host H] [--port P] [--workers N] [--root-path /gw]": SYNOPSIS,
    "drgate serve --root-path": SYNOPSIS,
    "drgate serve --root-path /gw": "is run so by tests/test_front.py (test_serve_under_a_root_path_names_it…)",
    "drgate serve --workers N": SYNOPSIS,
    "drgate store init [--json]": SYNOPSIS,
    "drgate store import": SYNOPSIS,
    "drgate store import FILE...": SYNOPSIS,
    "drgate store import FILE... [--skip-invalid]": SYNOPSIS,
    "drgate store import FILE... [--skip-invalid] [--json]": SYNOPSIS,
    "drgate rules evaluate [--year Y] [--physician CODE] [--json]": SYNOPSIS,
    "drgate seed": SYNOPSIS,
    "drgate notices [--due] [--json]": SYNOPSIS,
    "drgate notices [--due] [--physician CODE] [--json]": SYNOPSIS,
    "drgate seed --physicians N": SYNOPSIS,
    "drgate seed --physicians N [--json]": SYNOPSIS,
    "drgate status CODE [--on DATE] [--institution CODE]": SYNOPSIS,
    "drgate COMMAND --help": SYNOPSIS,
    "drgate api-key add --name N --role R [--json]": SYNOPSIS,
    "drgate api-key list [--json]": SYNOPSIS,
    "drgate api-key revoke NAME [--json]": SYNOPSIS,
    "drgate api-key add --name N --role R": SYNOPSIS,
    "drgate api-key add": SYNOPSIS,
    "curl --data-binary @/metrics/drgate_sync.prom http://pushgateway:9091/metrics/job/drgate_sync": PRODUCTION,
    "schemathesis run $HOST/openapi.json --checks all -H 'X-API-Key: …'": STAGING,
    **dict.fromkeys([
        "drgate decisions archive", "drgate decisions archive [--once] [--batch N] [--claim-idle S] [--json]",
        "drgate decisions archive [--once] \\| show ID \\| search … \\| verify [--day D] \\| export … \\| prune",
        "drgate decisions export", "drgate decisions export --from D --to D",
        "drgate decisions export --from D --to D [--out FILE]", "drgate decisions prune",
        "drgate decisions prune [--json]",
        "drgate decisions search --claim ID \\| --physician CODE [--from D] [--to D] [--cursor C] [--limit N] [--json]",
        "drgate decisions search --claim ID | --physician CODE --from D --to D", "drgate decisions show ID",
        "drgate decisions show ID [--json]", "drgate decisions show|search", "drgate decisions verify",
        "drgate decisions verify [--day D]", "drgate decisions verify [--day D] [--json]",
    ], ARCHIVE),
    "python -m bench.archive": SUITE, "python -m bench.kill_loss": SUITE,
    "python -m bench.slowclients": SUITE, "python -m bench.snapshot_file": SUITE,
}

#: Shell blocks, by their first line.
BLOCKS: dict[str, str] = {
    "make run     # venv, install, embedded Redis + SQLite store, demo data, sync, gateway on 127.0.0.1:8000": SUITE,
    "curl -s http://127.0.0.1:8000/v1/claims/check -H 'content-type: application/json' -d '{": DEMO,
    "*/5 * * * *  drgate  . /etc/drgate/env && drgate sync --wait 60 --metrics-file "
    "/var/lib/node_exporter/textfile/drgate_sync.prom": CRON,
    "# /etc/cron.d/drgate — every 5 minutes incremental, 02:30 full; environment from /etc/drgate/env": CRON,
    "export DRGATE_STORE_URL='postgresql+psycopg://drgate@db.internal:5432/drgate'   # password: PGPASSFILE or "
    "the URL": PRODUCTION,
    "DRGATE_REDIS_URL=… DRGATE_STORE_URL=… drgate serve --host 0.0.0.0 --port 8000 --workers 4": PRODUCTION,
    "systemctl daemon-reload && systemctl enable --now drgate-sync.timer": PRODUCTION,
    "DRGATE_UI_SCREENSHOTS=docs DRGATE_TEST_REDIS_URL=redis://127.0.0.1:6379/9 \\": SUITE,  # tests/test_ui_browser.py
}

_INLINE = re.compile(r"(?<!`)`((?:drgate|make|python -m|LOADTEST_\w+=\S+ make|curl|schemathesis) [^`]*)`")
_BLOCK = re.compile(r"^```(sh|bash|cron)\n(.*?)^```", re.S | re.M)


def inline_commands() -> set[str]:
    found = set()
    for page in PAGES:
        for match in _INLINE.finditer(page.read_text()):
            found.add(" ".join(match.group(1).split()))
    return found


def blocks() -> list[tuple[str, str, str]]:
    """(page, language, text) of every shell block."""
    return [(page.name, m.group(1), m.group(2)) for page in PAGES for m in _BLOCK.finditer(page.read_text())]


def test_every_documented_command_is_on_the_checklist() -> None:
    missing = sorted(inline_commands() - set(CHECKLIST))
    assert not missing, f"add these to CHECKLIST with what the suite does with them: {missing}"
    first_lines = {text.splitlines()[0] for _, _, text in blocks()}
    assert not first_lines - set(BLOCKS), sorted(first_lines - set(BLOCKS))


@pytest.mark.parametrize("synopsis", sorted(c for c, what in CHECKLIST.items() if what == SYNOPSIS))
def test_every_flag_of_a_synopsis_is_in_the_help(synopsis: str, capsys: pytest.CaptureFixture[str]) -> None:
    words = synopsis.split()[1:]
    path = [w for w in words[:2] if re.fullmatch(r"[a-z][a-z-]*", w)]
    with pytest.raises(SystemExit):
        main([*path, "--help"])
    text = capsys.readouterr().out
    for flag in re.findall(r"--[a-z][a-z-]*", synopsis):
        assert flag in text, f"{synopsis}: {flag} is not an option of drgate {' '.join(path)}"


def _env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DRGATE_REDIS_URL": settings.redis_url_value() or "", "DRGATE_REDIS_PREFIX":
           settings.redis_prefix, "DRGATE_STORE_URL": settings.store_url_value(), "DRGATE_VAR_DIR":
           str(tmp_path / "var"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _cron_commands() -> list[str]:
    """The command of every documented cron line, as `drgate sync …` (the user and env file cut)."""
    lines = [line for _, lang, text in blocks() if lang == "cron" for line in text.splitlines()
             if line and not line.startswith("#")]
    return [line.split("&& ", 1)[1] for line in lines]


@pytest.mark.slow
def test_the_documented_commands_run_as_written(settings: Settings, redis: redis_lib.Redis, tmp_path: Path) -> None:
    env = _env(settings, tmp_path)
    textfile = tmp_path / "textfile"
    cron = [c.replace("/var/lib/node_exporter/textfile/", f"{textfile}/") for c in _cron_commands()]
    for command in [*RUN_ORDER, *cron]:
        run = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, f"{command}: exit {run.returncode}\n{run.stderr[-2000:]}"
    assert (textfile / "drgate_sync.prom").is_file()


def test_cron_lines_agree_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    help_line = next(line for line in capsys.readouterr().out.splitlines() if "*/5 * * * *" in line)
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    systemd = re.search(r"ExecStart=\S+/drgate (sync .*)", deploy)
    k8s = re.search(r'schedule: "([^"]+)"[\s\S]*?args: \[(.*?)\]', deploy)
    assert systemd and k8s
    every_5 = {c for c in _cron_commands() if "--full" not in c}
    nightly = {c for c in _cron_commands() if "--full" in c}
    assert len(every_5) == 1 and len(nightly) == 1, (every_5, nightly)
    (incremental,) = every_5
    assert help_line.split("*/5 * * * *", 1)[1].split() == incremental.split()
    assert "drgate " + systemd.group(1) == incremental
    args = [a.strip().strip('"') for a in k8s.group(2).split(",")]
    assert k8s.group(1) == "*/5 * * * *"
    assert " ".join(["drgate", *args]).replace("/metrics/", "/var/lib/node_exporter/textfile/") == incremental


def _exit_rows(page: Path) -> dict[int, str]:
    text = page.read_text()
    table = text[text.index("| code | meaning"):]
    table = table.split("\n\n")[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| ([^|]+)\|", table, re.M)}


@pytest.mark.parametrize("page", ["README.md", "docs/cli.md", "docs/operations.md"])
def test_the_exit_code_tables_match_the_code(page: str) -> None:
    rows = _exit_rows(ROOT / page)
    assert set(rows) == {EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED, EXIT_SHRINK, 130}
    assert "DRGATE_PROFILE" in rows[EXIT_INPUT]


@pytest.mark.parametrize("argv", [["sync"], ["store", "import", "x.jsonl"], ["rules", "evaluate"],
                                  ["serve", "--workers", "2"]])
def test_an_unknown_profile_is_a_configuration_error(argv: list[str], settings: Settings, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in _env(settings, tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DRGATE_PROFILE", "nowhere-2099")
    assert main(["store", "init"]) == EXIT_OK
    assert main(argv) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "DRGATE_PROFILE" in err and "nowhere-2099" in err and "quzhou-2020" in err


def _pid_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


@pytest.mark.slow
def test_demo_answers_its_curls_and_stops_its_redis(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DRGATE_PORT": str(port), "DRGATE_VAR_DIR": str(tmp_path / "var"),
           "DRGATE_STORE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "DRGATE_LOG_FORMAT": "json"}
    for name in ("DRGATE_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        demo = subprocess.Popen([*DRGATE, "demo"], env=env, stdout=stdout, stderr=stderr)
    server_pid = None
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert demo.poll() is None and time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.2)
        socket = re.search(r"embedded Redis on unix://(\S+)", out.read_text())
        assert socket, out.read_text()
        server_pid = int(redis_lib.Redis(unix_socket_path=socket.group(1)).info()["process_id"])
        curls = [line.strip() for line in out.read_text().splitlines() if line.strip().startswith("curl ")]
        readme = next(text for page, _, text in blocks() if text.startswith("curl -s http://127.0.0.1:8000"))
        answers = [orjson.loads(subprocess.run(["bash", "-c", c.replace(":8000", f":{port}")], capture_output=True,
                                               check=True, timeout=30).stdout) for c in [*curls, readme]]
        assert [(a["decision"], a["lines"][0]["reason"]) for a in answers] == [
            ("pass", "ok"), ("reject", "suspended"), ("pass", "ok")]
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while not _pid_gone(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pid_gone(server_pid), "the embedded redis-server outlived the demo"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if server_pid is not None and not _pid_gone(server_pid):
            os.kill(server_pid, signal.SIGKILL)  # the one this test's demo started


# -- the contract is in the repository -------------------------------------------------------------------

#: What the repository's own text is: code, pages, profiles, build and CI files.
CITING = ("*.py", "*.md", "*.toml", "*.yml", "*.mako", "Makefile", "run")
NOT_OURS = {".git", ".venv", "var", "node_modules", "__pycache__"}
THIS = Path(__file__).resolve()  # names the patterns it looks for
#: ``docs/…md`` named in text (a path from the repository's root); a Markdown link's target.
_DOCS_PATH = re.compile(r"(?<![\w/.])docs/[\w./-]*\.md\b")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
#: Documents the repository does not hold: the contract's old single file, a sibling checkout's files.
_OUTSIDE = re.compile(r"\bSPEC(?:\.md)?\b|\.\./shared/|/work/shared")


def _our_files() -> list[Path]:
    found: set[Path] = set()
    for top in ROOT.iterdir():
        if top.name in NOT_OURS or top.name.endswith(".egg-info"):
            continue
        candidates = [top] if top.is_file() else [p for pattern in CITING for p in top.rglob(pattern)]
        found.update(p for p in candidates if p.is_file() and p != THIS and any(p.match(c) for c in CITING)
                     and not set(p.relative_to(ROOT).parts) & NOT_OURS)
    return sorted(found)


def _citations(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: what`` of every citation in ``path`` of a document the repository (``root``) does not hold."""
    bad = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.relative_to(root)}:{number}"
        bad += [f"{where}: {m.group(0)}" for m in _OUTSIDE.finditer(line)]
        bad += [f"{where}: {m.group(0)}" for m in _DOCS_PATH.finditer(line) if not (root / m.group(0)).is_file()]
        if path.suffix == ".md":
            targets = (m.group(1) for m in _LINK.finditer(line))
            bad += [f"{where}: ({t})" for t in targets
                    if "://" not in t and not t.startswith("mailto:") and not (path.parent / t).exists()]
    return bad


def test_no_file_cites_a_document_the_repository_does_not_hold() -> None:
    files = _our_files()
    assert ROOT / "README.md" in files and ROOT / "gateway" / "cli" / "main.py" in files
    assert [c for path in files for c in _citations(path)] == []


def test_a_citation_of_what_is_not_here_is_seen(tmp_path: Path) -> None:
    """The check above can fail: SPEC.md, a docs/ page that is not there, a link out of the repository."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rules.md").write_text("# Rules\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text("see SPEC.md\nsee docs/no-such-page.md, docs/rules.md\n"
                    "[x](../../shared/STYLE.md) [ok](rules.md#points)\n")
    assert [c.split(": ", 1)[1] for c in _citations(page, tmp_path)] == [
        "SPEC.md", "docs/no-such-page.md", "../shared/", "(../../shared/STYLE.md)"]


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {m.group(1) for m in _LINK.finditer(readme)}
    assert [p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"docs/{p.name}" not in linked] == []


_CODE_SPAN = re.compile(r"`([^`\s]+)`")
TO_ADD = {"gateway/admin/", "gateway/ui/"}  # rooms the page says how to add


def test_the_architecture_names_only_paths_that_exist() -> None:
    """docs/architecture.md is read first: every folder or module it names is where it says."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = {m.group(1) for m in _CODE_SPAN.finditer(page)}
    modules = {p.name for top in ("gateway", "cache", "rules") for p in (ROOT / top).rglob("*.py")}
    paths = [n for n in named if "/" in n and not n.startswith("/") and "<" not in n and "{" not in n
             and n not in TO_ADD]
    assert paths and [p for p in paths if not list(ROOT.glob(p.rstrip("/")))] == []
    assert [n for n in named if n.endswith(".py") and "/" not in n and n not in modules] == []
