"""The work behind each `drgate` command; ``gateway.cli.main`` parses and maps errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from cache.eviction import check_eviction
from cache.keys import Keys
from cache.sync import Syncer, SyncResult
from gateway.cli.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, sync_outcome
from gateway.cli.output import env_for_workers, print_json, today
from gateway.cli.progress import interactive, progress_bar
from gateway.connections import open_store, redis_url, stop_embedded, sync_redis
from gateway.observe.logs import log_config
from gateway.observe.metrics import write_sync_metrics
from gateway.settings import Settings
from rules.calendar import china_calendar
from rules.profiles import load_profile
from rules.store.importer import import_files
from rules.store.scans import Store

log = logging.getLogger("drgate")


def _syncer(settings: Settings, **kwargs: object) -> Syncer:
    profile = load_profile(settings.profile)
    store = open_store(settings)
    store.check()
    return Syncer(sync_redis(settings, timeout=30.0, retries=3), Keys(settings.redis_prefix), store, profile,
                  china_calendar(settings.calendar_file), max_shrink=settings.max_shrink,
                  grace_seconds=settings.grace_seconds,
                  lock_ttl_ms=int(settings.sync_lock_ttl * 1000), **kwargs)  # type: ignore[arg-type]


def sync(settings: Settings, args: argparse.Namespace) -> int:
    metrics_file = args.metrics_file or (Path(settings.sync_metrics_file) if settings.sync_metrics_file else None)
    started = time.monotonic()
    result = None
    try:
        result = _run_sync(settings, args)
    except BaseException as exc:
        if metrics_file is not None:
            outcome, code = sync_outcome(exc)
            write_sync_metrics(metrics_file, outcome, code, time.monotonic() - started, None)
        raise
    if metrics_file is not None:
        write_sync_metrics(metrics_file, "ok", EXIT_OK, time.monotonic() - started, result)
    if args.json:
        print_json(result.as_dict())
    else:
        verb = "would publish" if result.dry_run else "published"
        print(f"{result.mode} sync {verb} version {result.version} (generation {result.generation}): "
              f"{result.physicians} physicians, {result.changed} changed, in {result.seconds:.2f}s")
        _warn_calendar(result.calendar_unknown_years)
    return EXIT_OK


def _run_sync(settings: Settings, args: argparse.Namespace) -> SyncResult:
    show = interactive(args.json)
    total = open_store(settings).count_physicians() if show and (args.full or args.dry_run) else None
    with progress_bar("sync: physicians", total, enabled=show and total is not None) as update:
        syncer = _syncer(settings, progress=update)
        if (warning := check_eviction(syncer.redis)) is not None:
            print(f"drgate: warning: {warning}", file=sys.stderr)
        try:
            with syncer.lock(wait=args.wait):
                if args.full:
                    return syncer.full(dry_run=args.dry_run, allow_shrink=args.allow_shrink)
                return syncer.incremental(dry_run=args.dry_run, allow_shrink=args.allow_shrink)
        finally:
            syncer.store.dispose()  # its pooled connections: `main` also runs in-process (tests, embedding)


def store(settings: Settings, args: argparse.Namespace) -> int:
    st = open_store(settings)
    try:
        return _store(settings, st, args)
    finally:
        st.dispose()  # close the pool's connections now, whatever happened


def _store(settings: Settings, st: Store, args: argparse.Namespace) -> int:
    if args.store_command == "init":
        before, after = st.init()
        if args.json:
            print_json({"dialect": st.dialect, "revision_before": before, "revision": after})
        elif before == after:
            print(f"store ready ({st.dialect}), schema at revision {after}: nothing to migrate")
        else:
            print(f"store ready ({st.dialect}), schema migrated {before or 'empty'} → {after}")
        return EXIT_OK
    st.check()
    size = sum(f.stat().st_size for f in args.files if f.is_file())
    with progress_bar("import", size, enabled=interactive(args.json), unit="bytes") as update:
        report = import_files(st, load_profile(settings.profile), args.files, skip_invalid=args.skip_invalid,
                              progress=update, calendar=china_calendar(settings.calendar_file))
    if args.json:
        print_json({"imported": dict(report.imported), "refused": [str(p) for p in report.problems]})
    else:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.imported.items())) or "nothing"
        print(f"imported {kinds}" + (f"; refused {len(report.problems)} line(s)" if report.problems else ""))
    return EXIT_INPUT if report.problems else EXIT_OK


def rules(settings: Settings, args: argparse.Namespace) -> int:
    from rules.store.report import evaluate_store, format_table

    st = open_store(settings)
    st.check()
    profile = load_profile(settings.profile)
    year = args.year or today().year
    calendar = china_calendar(settings.calendar_file)
    calendar.take_uncertain()
    rows = evaluate_store(st, profile, year, args.physician, calendar)
    if args.physician is not None and not rows:
        print(f"drgate: {args.physician} is not a physician of the scoring store", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        print_json(rows)
    else:
        print("\n".join(format_table(profile, year, rows)))
    _warn_calendar(calendar.take_uncertain())
    return EXIT_OK


def _warn_calendar(years: tuple[int, ...]) -> None:
    """Say so when windows or deadlines were counted over years whose 调休 the calendar does not know."""
    if years:
        print(f"warning: restoration windows or appeal deadlines fall in {', '.join(map(str, years))}, whose "
              "adjusted working days (调休) the calendar does not know: counted over plain weekends. Add the "
              "State Council's schedule to DRGATE_CALENDAR_FILE.", file=sys.stderr)


def notices(settings: Settings, args: argparse.Namespace) -> int:
    from rules.store.notice_list import format_notices, list_notices

    st = open_store(settings)
    st.check()
    calendar = china_calendar(settings.calendar_file)
    calendar.take_uncertain()
    rows = list_notices(st, load_profile(settings.profile), args.physician, due_only=args.due, calendar=calendar)
    if args.json:
        print_json(rows)
    else:
        print("\n".join(format_notices(rows)))
    _warn_calendar(calendar.take_uncertain())
    return EXIT_OK


def seed(settings: Settings, args: argparse.Namespace) -> int:
    from rules.store.seed import seed as run_seed

    st = open_store(settings)
    show = interactive(args.json)
    with progress_bar("seed: physicians", args.physicians, enabled=show) as update:
        def progress(done: int) -> None:
            update(done)
            if not show:
                log.info("seeded %d physicians", done)

        n = run_seed(st, args.physicians, progress=progress)
    if args.json:
        print_json({"physicians": n, "dialect": st.dialect})
    else:
        print(f"seeded {n} physicians into {st.dialect} store; now run `drgate sync --full`")
    return EXIT_OK


def status(settings: Settings, args: argparse.Namespace) -> int:
    from cache.blocking_reader import SnapshotReader
    from cache.snapshot_cache import UNREAD, SnapshotCache
    from gateway.check.core import Policy
    from gateway.check.status import explain, store_reasons

    profile = load_profile(settings.profile)
    reader = SnapshotReader(sync_redis(settings, timeout=5.0), SnapshotCache(Keys(settings.redis_prefix)))
    reader.refresh(None)
    snapshot = reader.cache.snapshot
    if snapshot is None:
        print("drgate: no snapshot is published; run `drgate sync --full`", file=sys.stderr)
        return EXIT_FAILED
    record = reader.get_many([args.code])[args.code]
    if record is UNREAD:
        print(f"drgate: the record of {args.code} cannot be read", file=sys.stderr)
        return EXIT_FAILED
    on = args.on or today()
    store = open_store(settings)  # the reasons; the snapshot's answer stands if the store cannot be read
    why = store_reasons(store, profile, china_calendar(settings.calendar_file), args.code, on, args.institution)
    store.dispose()
    if why is None:
        print(f"drgate: reasons left out: the scoring store cannot be read or does not know {args.code}",
              file=sys.stderr)
    print_json(explain(args.code, record, snapshot, on, args.institution, Policy.from_settings(settings, profile),
                       profile, why))
    return EXIT_OK if record is not None else EXIT_INPUT


def api_key(settings: Settings, args: argparse.Namespace) -> int:
    from rules.store import api_keys

    if args.key_command is None:  # a settlement key for DRGATE_API_KEYS, held nowhere
        key, digest = api_keys.new_key()
        print(f"key (give to the caller, shown once): {key}")
        print(f"digest (add to DRGATE_API_KEYS):      {digest}")
        return EXIT_OK
    st = open_store(settings)
    try:
        st.check()
        if args.key_command == "add":
            key = api_keys.add_key(st, args.name, args.role)
            if args.json:
                print_json({"key": key, "name": args.name, "role": args.role})
            else:
                print(f"key {args.name} ({args.role}), shown once; it works from the next `drgate sync`:")
                print(key)
        elif args.key_command == "list":
            found = [k.as_dict() for k in api_keys.list_keys(st)]
            if args.json:
                print_json(found)
            else:
                for k in found:
                    state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "live"
                    print(f"{k['name']:<24} {k['role']:<10} created {k['created_at']}  {state}")
        else:
            revoked = api_keys.revoke_key(st, args.name).as_dict()
            if args.json:
                print_json(revoked)
            else:
                print(f"key {args.name} revoked; it stops working at the next `drgate sync`")
    finally:
        st.dispose()
    return EXIT_OK


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.api.front import serve as run_front

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if getattr(args, "root_path", None) is not None:  # checked as DRGATE_ROOT_PATH is: a bad prefix exits 2
        settings = settings.model_copy(update={"root_path": type(settings)(root_path=args.root_path).root_path})
    load_profile(settings.profile)  # an unknown profile exits 2 here, not in each worker it would crash
    # uvicorn applies this in every worker it spawns: the workers' lines, with timestamps and pids.
    logging_ = log_config(settings.log_format, verbose=getattr(args, "verbose", False),
                          access_log=settings.access_log)
    if workers > 1:
        _multiprocess_metrics(settings, workers)
        if settings.ui_secret is None:  # one secret for every worker: a session made by one is read by all
            env_for_workers(settings, ui_secret=secrets.token_urlsafe(32))
        if settings.redis_url is None:
            env_for_workers(settings, redis_url=redis_url(settings))
        run_front("gateway.app:create_app", settings, host=host, port=port, workers=workers,
                  log_config=logging_)
        return EXIT_OK
    from gateway.app import create_app

    return EXIT_OK if run_front(create_app(settings), settings, host=host, port=port, workers=1,
                                       log_config=logging_) else EXIT_FAILED


def _multiprocess_metrics(settings: Settings, workers: int) -> None:
    """Workers are processes: their metrics meet in PROMETHEUS_MULTIPROC_DIR (emptied at start)."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(settings.var_dir) / "prometheus")
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):  # files of a previous run's workers would be summed in
        old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path.resolve())
    log.info("metrics of %d workers merged through %s", workers, path)


def demo(settings: Settings, args: argparse.Namespace) -> int:
    """Ctrl-C or SIGTERM stops the gateway, then the embedded Redis it started (uvicorn hands the
    signal on once it has shut down; before it runs, the handler below stops the demo)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return _demo(settings)
    finally:
        stop_embedded()
        signal.signal(signal.SIGTERM, previous)


def _demo(settings: Settings) -> int:
    from gateway.cli.demo import curl_examples, write_demo_data

    var = Path(settings.var_dir)
    embedded = settings.redis_url is None
    url = redis_url(settings)  # starts the embedded Redis when DRGATE_REDIS_URL is unset
    settings = settings.model_copy(update={"redis_url": settings.redis_url or SecretStr(url)})
    st = open_store(settings)
    st.init()
    profile = load_profile(settings.profile)
    data = write_demo_data(var / "demo.jsonl", today())
    import_files(st, profile, [data])
    syncer = _syncer(settings)
    with syncer.lock(wait=10):
        result = syncer.full(allow_shrink=True)
    print(f"demo: {result.physicians} physicians published (version {result.version}); store {st.url}")
    if embedded:
        print(f"demo: embedded Redis on {url} (a unix socket, no TCP port); it stops with the demo")
    print("Try:")
    for line in curl_examples(settings.host, settings.port, today()):
        print("  " + line)
    print(f"Docs: http://{settings.host}:{settings.port}/docs   (Ctrl-C stops)")
    sys.stdout.flush()
    return serve(settings, argparse.Namespace(host=None, port=None, workers=1))
