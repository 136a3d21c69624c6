"""`drgate`: the command line of the gateway, the sync job and the scoring store.

Exit codes: 0 done; 1 failed (the message says why); 2 bad input or usage (an import with bad
lines, an unknown physician); 3 another sync holds the lock; 4 the shrink guard refused a sync.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import orjson
from redis.exceptions import RedisError

from cache.errors import CacheError, SyncError
from gateway.settings import Settings
from rules.errors import ImportFileError, RulesError

__all__ = ["main"]

log = logging.getLogger("drgate")

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED, EXIT_SHRINK = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drgate",
        description="Physician check of the medical-insurance settlement gateway (医保医师结算校验). "
        "Configuration comes from DRGATE_* environment variables; see README.md.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("demo", help="embedded default: SQLite store, embedded Redis, demo data, sync, serve",
                   description="Start drgate on its embedded default with demo data for 衢州 covering every "
                   "reason code, then serve on 127.0.0.1:8000 and print two ready curl calls.")

    serve = sub.add_parser("serve", help="run the HTTP gateway (uvicorn, uvloop, httptools)")
    serve.add_argument("--host", help="address to bind (DRGATE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (DRGATE_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (DRGATE_WORKERS, default 1)")

    sync = sub.add_parser("sync", help="publish the scoring store's state to Redis (for cron)",
                          description="Incremental by default: publish what changed since the last run. "
                          "Exit 3 when another sync runs, 4 when the shrink guard refuses.")
    sync.add_argument("--full", action="store_true", help="rebuild and publish the whole snapshot")
    sync.add_argument("--dry-run", action="store_true", help="compute everything, publish nothing")
    sync.add_argument("--allow-shrink", action="store_true", help="publish even if many physicians disappear")
    sync.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                      help="wait this long for another sync's lock instead of exiting 3")
    sync.add_argument("--json", action="store_true", help="print the result as JSON")

    store = sub.add_parser("store", help="the scoring store: init, import")
    store_sub = store.add_subparsers(dest="store_command", required=True, metavar="SUBCOMMAND")
    store_sub.add_parser("init", help="create the schema (idempotent)")
    imp = store_sub.add_parser("import", help="import JSON Lines files (all or nothing)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--skip-invalid", action="store_true", help="import the good lines, report the bad ones")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")

    rules = sub.add_parser("rules", help="points and sanctions by the city's rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    ev = rules_sub.add_parser("evaluate", help="points, sanctions and what is due, per physician")
    ev.add_argument("--year", type=int, help="calendar year (default: this year)")
    ev.add_argument("--physician", metavar="CODE", help="only this physician")
    ev.add_argument("--json", action="store_true", help="one JSON array, an object per physician")

    seed = sub.add_parser("seed", help="fill the store with synthetic physicians (benchmarks, staging)")
    seed.add_argument("--physicians", type=int, required=True, metavar="N")

    sub.add_parser("api-key", help="print a new caller API key and the digest DRGATE_API_KEYS takes",
                   description="Give the key to the caller; put only the digest in DRGATE_API_KEYS "
                   "(comma-separated). drgate never stores or logs the key itself.")

    status = sub.add_parser("status", help="explain a physician's state (help desk)")
    status.add_argument("code", metavar="CODE")
    status.add_argument("--on", type=date.fromisoformat, metavar="DATE", help="YYYY-MM-DD (default today)")
    status.add_argument("--institution", metavar="CODE", help="also decide a line at this institution")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"drgate: bad configuration: {exc}", file=sys.stderr)
        return EXIT_INPUT
    from gateway import commands

    handlers = {
        "demo": commands.demo, "serve": commands.serve, "sync": commands.sync, "store": commands.store,
        "rules": commands.rules, "seed": commands.seed, "status": commands.status, "api-key": commands.api_key,
    }
    try:
        return handlers[args.command](settings, args)
    except ImportFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"drgate: {exc}. Fix the lines above, or pass --skip-invalid.", file=sys.stderr)
        return EXIT_INPUT
    except SyncError as exc:
        print(f"drgate: {exc}", file=sys.stderr)
        return exc.exit_code
    except (CacheError, RulesError) as exc:
        print(f"drgate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RedisError as exc:  # the message names host and port, never the password
        print(f"drgate: redis failed: {type(exc).__name__}: {exc}; nothing was published", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def today() -> date:
    from gateway.status import CHINA

    return datetime.now(CHINA).date()


def env_for_workers(settings: Settings, **overrides: object) -> None:
    """Workers of `serve --workers N` build their own settings from the environment."""
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"DRGATE_{key.upper()}"] = str(value)
