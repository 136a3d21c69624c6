"""`drgate decisions archive|show|search|verify|export|prune`: the archive of every answer."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cache.keys import Keys
from gateway.cli.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK
from gateway.cli.output import print_json, today
from gateway.connections import open_store, sync_redis
from gateway.settings import Settings
from rules.store.archive.reads import ArchiveReader
from rules.store.archive.writes import Archive
from rules.store.scans import Store

__all__ = ["add_parser", "decisions"]


def add_parser(sub: Any, command: Any) -> None:
    p = command(sub, "decisions", "the archive of every answer: archive the log, look decisions up, verify",
                "The decision log (a Redis Stream, the gateway's short buffer) moved into the store, and "
                "looked up there: by decision id, claim or physician, with the article of every rejection "
                "and the records behind it, also after they were revoked.")
    s = p.add_subparsers(dest="decisions_command", required=True, metavar="SUBCOMMAND")
    a = command(s, "archive", "move the decision log into the store (long-running; --once for cron)",
                "Read the decision log as a consumer group, archive idempotently, acknowledge after commit, "
                "claim the entries of dead archivers. Creates PostgreSQL partitions ahead and drops days past "
                "DRGATE_DECISIONS_KEEP_DAYS.\n\ncron:  * * * * *  drgate decisions archive --once")
    a.add_argument("--once", action="store_true", help="archive what the log holds now, then exit")
    a.add_argument("--batch", type=int, default=2000, help="entries a transaction (default 2000)")
    a.add_argument("--claim-idle", type=float, default=60.0, metavar="SECONDS",
                   help="claim another archiver's entries pending this long (default 60)")
    a.add_argument("--json", action="store_true", help="print the run's counts as JSON")
    show = command(s, "show", "one decision, whole", "A decision from the archive: lines, articles, grounds, "
                   "what became of them since, feedback. A table on a terminal; --json for scripts.")
    show.add_argument("decision_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    search = command(s, "search", "decisions of a claim, or of a physician over days",
                     "By --claim, or by --physician with --from and --to (received days, inclusive); paged.")
    search.add_argument("--claim", metavar="CLAIM_ID")
    search.add_argument("--physician", metavar="CODE")
    search.add_argument("--from", dest="start", type=date.fromisoformat, metavar="DATE")
    search.add_argument("--to", dest="end", type=date.fromisoformat, metavar="DATE")
    search.add_argument("--cursor", help="the cursor a previous page printed")
    search.add_argument("--limit", type=int, default=50)
    search.add_argument("--json", action="store_true")
    verify = command(s, "verify", "recompute the hash chain of each archived day",
                     "Exit 1 naming the first decision whose rows or chain do not match.")
    verify.add_argument("--day", type=date.fromisoformat, metavar="DATE", help="only this received day")
    verify.add_argument("--json", action="store_true")
    export = command(s, "export", "archived lines of a day range as CSV (for auditors)",
                     "One CSV row a line, with its decision's fields; to --out or stdout.")
    export.add_argument("--from", dest="start", type=date.fromisoformat, required=True, metavar="DATE")
    export.add_argument("--to", dest="end", type=date.fromisoformat, required=True, metavar="DATE")
    export.add_argument("--out", type=Path, metavar="FILE")
    prune = command(s, "prune", "drop archived days past DRGATE_DECISIONS_KEEP_DAYS (the archiver does it too)",
                    "Drop whole days (PostgreSQL partitions) received before today - keep days.")
    prune.add_argument("--json", action="store_true")


def decisions(settings: Settings, args: argparse.Namespace) -> int:
    store = open_store(settings)
    try:
        store.check()
        return _run(settings, store, args)
    finally:
        store.dispose()


def _run(settings: Settings, store: Store, args: argparse.Namespace) -> int:
    command = args.decisions_command
    if command == "archive":
        return _archive(settings, store.engine, args)
    reader = ArchiveReader(store.engine)
    if command == "show":
        found = reader.decision(args.decision_id)
        if found is None:
            print(f"drgate: no archived decision {args.decision_id}", file=sys.stderr)
            return EXIT_INPUT
        if args.json:
            print_json(found)
        else:
            _print_decision(found)
        return EXIT_OK
    if command == "search":
        return _search(reader, args)
    if command == "verify":
        result = reader.verify(args.day)
        m = result.mismatch
        if args.json:
            print_json({"days": result.days, "decisions": result.decisions, "ok": m is None,
                        "mismatch": None if m is None else {"day": m.day.isoformat(), "kind": m.kind, "seq": m.seq,
                                                            "decision_id": m.decision_id, "why": m.why}})
        elif m is None:
            print(f"verified {result.decisions} decisions over {result.days} day(s): every chain matches")
        else:
            print(f"drgate: day {m.day}, {m.kind} {m.seq} ({m.decision_id or 'absent'}): {m.why}", file=sys.stderr)
        return EXIT_OK if m is None else EXIT_FAILED
    if command == "export":
        if args.out is None:
            rows = reader.export_csv(args.start, args.end, sys.stdout)
        else:
            with args.out.open("w", newline="", encoding="utf-8") as out:
                rows = reader.export_csv(args.start, args.end, out)
        print(f"exported {rows} lines from {args.start} to {args.end}", file=sys.stderr)
        return EXIT_OK
    dropped = Archive(store.engine).drop_before(today() - timedelta(settings.decisions_keep_days))
    if args.json:
        print_json({"dropped": [d.isoformat() for d in dropped]})
    else:
        print(f"dropped {len(dropped)} day(s) before keeping {settings.decisions_keep_days} days")
    return EXIT_OK


def _archive(settings: Settings, engine: Any, args: argparse.Namespace) -> int:
    from gateway.decisionlog.archiver import Archiver

    client = sync_redis(settings.decision_log_redis() or settings, timeout=5.0)  # where the log is
    archiver = Archiver(client, Keys(settings.redis_prefix).decisions, Archive(engine),
                        batch=args.batch, block_ms=0 if args.once else 1000, claim_idle=args.claim_idle,
                        keep_days=settings.decisions_keep_days, own_gc=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        stats = archiver.run(once=args.once, should_stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        stats = archiver.stats
    finally:
        client.close()
    counts = {"read": stats.read, "archived": stats.archived, "lines": stats.lines, "feedback": stats.feedback,
              "malformed": stats.malformed, "lost": stats.lost}
    if args.json:
        print_json(counts)
    else:
        print("archived " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return EXIT_OK if not stats.lost else EXIT_FAILED


def _search(reader: ArchiveReader, args: argparse.Namespace) -> int:
    if args.claim:
        found, cursor = reader.by_claim(args.claim, args.limit), None
    elif args.physician:
        end = args.end or today()
        page = reader.by_physician(args.physician, args.start or end - timedelta(30), end, args.cursor, args.limit)
        found, cursor = page.decisions, page.cursor
    else:
        print("drgate: give --claim CLAIM_ID, or --physician CODE [--from DATE --to DATE]", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        print_json({"decisions": found, "cursor": cursor})
        return EXIT_OK
    for d in found:
        _print_decision(d, only=args.physician)
        print()
    print(f"{len(found)} decision(s)" + (f"; next page: --cursor {cursor}" if cursor else ""))
    return EXIT_OK


def _print_decision(d: dict[str, Any], only: str | None = None) -> None:
    snap = f"snapshot {d['snapshot_id'] or '-'} gen {d['snapshot_generation']} v{d['snapshot_version']}"
    print(f"decision {d['decision_id']}  {d['decision']}  claim {d['claim_id']}  at {d['institution_code']}  "
          f"received {d['day']} via {d['front']} ({d['caller'] or 'no key'})")
    print(f"  service {d['service_from']}..{d['service_to']}  {d['profile']}  enforce={d['enforced']}  "
          f"fail_{d['fail_mode']}  {snap}")
    rows = [("line", "physician", "decision", "reason", "basis", "until", "ban_until", "flags", "would_reject",
             "refs")]
    for line in d["lines"]:
        if only is None or line["physician_code"] == only:
            rows.append((line["line_id"], line["physician_code"], line["decision"], line["reason"],
                         line["basis"] or "", line["until"] or "", line.get("ban_until") or "",
                         ",".join(line["flags"]), line["would_reject"] or "", ",".join(line["refs"])))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    for g in d["grounds"]:
        print(f"  [{g['ref']}] {g['kind']} {g['action']} {g['start']}..{g['end'] or 'open'} {g['article']}"
              + (f"  — {g['since']}" if g["since"] else ""))
    for f in d["feedback"]:
        print(f"  feedback {f['feedback_id']} via {f['front']} at {f['day']}: {f['body']}")
