"""`drgate`: the command line of the gateway, the sync job and the scoring store.

Exit codes: 0 done; 1 failed (the message says why); 2 bad input or usage (an import with bad
lines, an unknown physician); 3 another sync holds the lock; 4 the shrink guard refused a sync.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError

from cache.errors import CacheError, SyncError
from gateway.cli.exits import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_SHRINK,
    sync_exit_code,
)
from gateway.observe.logs import log_config
from gateway.settings import Settings
from rules.errors import ApiKeyError, CalendarError, ImportFileError, ProfileError, RulesError
from rules.store.schema import ROLES

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_LOCKED", "EXIT_OK", "EXIT_SHRINK", "main"]

log = logging.getLogger("drgate")



_EPILOG = """\
configuration (environment):
  DRGATE_STORE_URL      scoring store: sqlite:///var/drgate.db (default) or postgresql+psycopg://user@host/db
  DRGATE_REDIS_URL      redis://host:6379/0 · redis+cluster://host:7000[,host:7001] ·
                        redis+sentinel://host:26379/SERVICE · unset: embedded Redis (demo only)
  DRGATE_PROFILE        quzhou-2020 (default) or suzhou-2021-draft
  DRGATE_ENFORCE        false = shadow mode (everything passes, would_reject tells)
  DRGATE_EMERGENCY_MED_TYPES, DRGATE_RESCUE_MED_TYPES   med_type codes exempt (default 13)
  DRGATE_SYNC_METRICS_FILE   where `drgate sync` writes its Prometheus textfile
  DRGATE_CALENDAR_FILE  a year's holidays and 调休 working days (TOML) the holidays package lacks
  DRGATE_DECISIONS_KEEP_DAYS archived decisions kept, in received days (default 1095)

exit codes:
  0 done · 1 failed (the message says why) · 2 bad input or configuration · 3 another sync holds
  the lock · 4 the shrink guard refused a sync · 130 interrupted

Try `drgate demo`, then `drgate COMMAND --help`."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drgate",
        description="Physician check of the medical-insurance settlement gateway (医保医师结算校验): may the "
        "ordering physician (开单医生) be paid from the fund on the date of service?",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           title="commands (drgate COMMAND --help for more)")

    def command(parent: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(
            name, help=help, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
        return parser

    command(sub, "demo", "try it: SQLite store, embedded Redis, demo data, sync, serve",
            "Start drgate on its embedded default with demo data for 衢州 covering every reason code, then "
            "serve on 127.0.0.1:8000 and print two ready curl calls. Nothing to install besides drgate.")

    serve = command(sub, "serve", "run the HTTP gateway (/v1/claims/check, /nhsa/3101…, /metrics)",
                    "Run the HTTP gateway (uvicorn, uvloop, httptools). Each worker is a process with its own "
                    "near-cache; with --workers > 1 the metrics of all workers are merged through "
                    "PROMETHEUS_MULTIPROC_DIR (set to var/prometheus when unset).")
    serve.add_argument("--host", help="address to bind (DRGATE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (DRGATE_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (DRGATE_WORKERS, default 1)")
    serve.add_argument("--root-path", help="the prefix a proxy serves drgate under and strips, e.g. /gw "
                                           "(DRGATE_ROOT_PATH, default none)")

    sync = command(sub, "sync", "publish the scoring store's state to Redis (run it from cron)",
                   "Publish the scoring store's state to Redis. Incremental by default: only what changed "
                   "since the last run. Exit 3 when another sync runs, 4 when the shrink guard refuses.\n\n"
                   "cron:  */5 * * * *  drgate sync --wait 60 "
                   "--metrics-file /var/lib/node_exporter/textfile/drgate_sync.prom")
    sync.add_argument("--full", action="store_true", help="rebuild and publish the whole snapshot")
    sync.add_argument("--dry-run", action="store_true", help="compute everything, publish nothing")
    sync.add_argument("--allow-shrink", action="store_true", help="publish even if many physicians disappear")
    sync.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                      help="wait this long for another sync's lock instead of exiting 3")
    sync.add_argument("--metrics-file", type=Path, metavar="PATH",
                      help="write duration, rows and outcome for node_exporter's textfile collector "
                      "(DRGATE_SYNC_METRICS_FILE)")
    sync.add_argument("--json", action="store_true", help="print the result as JSON")

    store = command(sub, "store", "the scoring store: create or migrate it, import files",
                    "The scoring store (SQLite or PostgreSQL) where points, sanctions and the registry live.")
    store_sub = store.add_subparsers(dest="store_command", required=True, metavar="SUBCOMMAND")
    init = command(store_sub, "init", "create the schema, or migrate it to this version (idempotent)",
                   "Create the scoring store's schema, or migrate an existing one to this drgate's revision "
                   "(Alembic `upgrade head`). Safe to run on every deploy.")
    init.add_argument("--json", action="store_true", help="print the revisions as JSON")
    imp = command(store_sub, "import", "import JSON Lines files (all or nothing)",
                  "Import JSON Lines files (docs/import-format.md). Every bad line is named; if any line is "
                  "bad nothing is imported, unless --skip-invalid. Re-importing an object replaces it.")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--skip-invalid", action="store_true", help="import the good lines, report the bad ones")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")

    rules = command(sub, "rules", "points and sanctions by the city's rules",
                    "Points and sanctions per physician under the configured city profile.")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    ev = command(rules_sub, "evaluate", "points, sanctions and what is due, per physician",
                 "Points of the year, sanctions in force (with their article) and decisions due "
                 "(苏州 第十六条), per physician.")
    ev.add_argument("--year", type=int, help="calendar year (default: this year)")
    ev.add_argument("--physician", metavar="CODE", help="only this physician")
    ev.add_argument("--json", action="store_true", help="one JSON array, an object per physician")

    notices = command(sub, "notices", "notices owed to physicians and institutions, served or not",
                      "Notices owed (衢州 第二十一条 书面或短信告知; 苏州 第十五条; 苏州 第十六条 事先告知): one per "
                      "scored violation, band reached, sanction, revocation and appeal decision, to the physician "
                      "and to each institution of an agreement. Record a served one with a `notice` import line "
                      "carrying its id.")
    notices.add_argument("--due", action="store_true", help="only those not served yet")
    notices.add_argument("--physician", metavar="CODE", help="only this physician's")
    notices.add_argument("--json", action="store_true", help="one JSON array, an object per notice")

    seed = command(sub, "seed", "fill the store with synthetic physicians (benchmarks, staging)",
                   "Replace the store's content with N synthetic physicians (deterministic; most active, some "
                   "suspended, terminated, disqualified). Never on a production store.")
    seed.add_argument("--physicians", type=int, required=True, metavar="N")
    seed.add_argument("--json", action="store_true", help="print the result as JSON")

    keys = command(sub, "api-key", "callers' API keys: add (with a role), list, revoke",
                   "API keys of the gateway's callers. Each has a name and a role: settlement (check routes "
                   "only), helpdesk (read), officer (helpdesk + write records), admin (officer + keys, publish). "
                   "Keys are records of the scoring store, published with the snapshot: a key added or revoked "
                   "works, or stops working, at the next `drgate sync`. The store holds the key's SHA-256 only. "
                   "Without a subcommand: print a new settlement key and the digest DRGATE_API_KEYS takes.")
    keys_sub = keys.add_subparsers(dest="key_command", metavar="SUBCOMMAND")
    add = command(keys_sub, "add", "make a key with a name and a role; prints the key once",
                  "Make a key, record its digest, name and role in the store, and print the key: it is shown "
                  "this once and never again. It works from the next `drgate sync`.")
    add.add_argument("--name", required=True, help="who holds it, e.g. helpdesk-1 (1-60 of A-Z a-z 0-9 . _ -)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--json", action="store_true", help='print {"key", "name", "role"}')
    listing = command(keys_sub, "list", "the keys of the store (names, roles, dates; never a key)",
                      "Every key of the store, revoked ones included: name, role, created, revoked.")
    listing.add_argument("--json", action="store_true", help="one JSON array, an object per key")
    revoke = command(keys_sub, "revoke", "revoke a key; it stops working at the next sync",
                     "Revoke the key NAME (its row stays, with the time of revocation).")
    revoke.add_argument("name", metavar="NAME")
    revoke.add_argument("--json", action="store_true", help="print the revoked key as JSON")

    status = command(sub, "status", "explain a physician's state (help desk)",
                     "Explain a physician's state from the published snapshot: agreements, sanctions with "
                     "their articles, credit, points, and the decision a line at --institution gets. JSON.")
    status.add_argument("code", metavar="CODE", help="医保医师代码, e.g. D330802000001")
    status.add_argument("--on", type=date.fromisoformat, metavar="DATE", help="YYYY-MM-DD (default today)")
    status.add_argument("--institution", metavar="CODE", help="also decide a line at this institution")

    from gateway.cli.decisions import add_parser

    add_parser(sub, command)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"drgate: bad configuration: {exc}", file=sys.stderr)
        return EXIT_INPUT
    logging.config.dictConfig(log_config(settings.log_format, verbose=args.verbose))
    from gateway.cli import commands
    from gateway.cli.decisions import decisions

    handlers = {
        "decisions": decisions,
        "demo": commands.demo, "serve": commands.serve, "sync": commands.sync, "store": commands.store,
        "rules": commands.rules, "notices": commands.notices, "seed": commands.seed, "status": commands.status,
        "api-key": commands.api_key,
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
        return sync_exit_code(exc)
    except ApiKeyError as exc:
        print(f"drgate: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except CalendarError as exc:
        print(f"drgate: bad configuration: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ProfileError as exc:  # DRGATE_PROFILE names no profile: configuration, like a bad URL
        print(f"drgate: bad configuration: DRGATE_PROFILE: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except (CacheError, RulesError) as exc:
        print(f"drgate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RedisError as exc:  # the message names host and port, never the password
        print(f"drgate: cannot use Redis at {_redis_where(settings)} ({type(exc).__name__}: {exc}); nothing was "
              "published. Check that it runs and DRGATE_REDIS_URL points at it (redis://, redis+cluster://, "
              "redis+sentinel://…/SERVICE).", file=sys.stderr)
        return EXIT_FAILED
    except OperationalError as exc:
        print(f"drgate: cannot reach the scoring store ({exc.orig}). Check that it runs and DRGATE_STORE_URL "
              "points at it; a new store needs `drgate store init`.", file=sys.stderr)
        return EXIT_FAILED
    except DBAPIError as exc:  # the driver's reason only: a statement's parameters may carry names
        if type(exc) is DatabaseError:  # not a subclass: SQLite's "file is not a database", "malformed"
            print(f"drgate: the scoring store at {_store_where(settings)} is not a database drgate can read "
                  f"({_first_line(exc)}). Check DRGATE_STORE_URL, or restore the store from its backup.",
                  file=sys.stderr)
        else:
            print(f"drgate: the scoring store refused the operation ({type(exc.orig).__name__}: "
                  f"{_first_line(exc)}); nothing was written.", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # a malformed URL or setting found while connecting
        print(f"drgate: bad configuration: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _redis_where(settings: Settings) -> str:
    """The Redis URL without its password, for error messages."""
    url = settings.redis_url_value()
    if not url:
        return "the embedded Redis"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _store_where(settings: Settings) -> str:
    """The store URL without its password, for error messages."""
    try:
        return make_url(settings.store_url_value()).render_as_string(hide_password=True)
    except ArgumentError:
        return "DRGATE_STORE_URL"


def _first_line(exc: DBAPIError) -> str:
    """The driver's message, first line: PostgreSQL's DETAIL lines may quote a row's values."""
    return (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
