"""The work behind each `drgate` command; ``gateway.cli`` parses and maps errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import SecretStr

from cache.keys import Keys
from cache.sync import Syncer
from gateway.cli import EXIT_INPUT, EXIT_OK, env_for_workers, print_json, today
from gateway.connections import open_store, redis_url, sync_redis
from gateway.settings import Settings
from rules.importer import import_files
from rules.profiles import load_profile

log = logging.getLogger("drgate")


def _syncer(settings: Settings, **kwargs: object) -> Syncer:
    profile = load_profile(settings.profile)
    store = open_store(settings)
    store.check()
    return Syncer(sync_redis(settings, timeout=30.0, retries=3), Keys(settings.redis_prefix), store, profile,
                  None, max_shrink=settings.max_shrink, grace_seconds=settings.grace_seconds,
                  lock_ttl_ms=int(settings.sync_lock_ttl * 1000), **kwargs)  # type: ignore[arg-type]


def sync(settings: Settings, args: argparse.Namespace) -> int:
    syncer = _syncer(settings)
    with syncer.lock(wait=args.wait):
        if args.full:
            result = syncer.full(dry_run=args.dry_run, allow_shrink=args.allow_shrink)
        else:
            result = syncer.incremental(dry_run=args.dry_run, allow_shrink=args.allow_shrink)
    if args.json:
        print_json(result.as_dict())
    else:
        verb = "would publish" if result.dry_run else "published"
        print(f"{result.mode} sync {verb} version {result.version} (generation {result.generation}): "
              f"{result.physicians} physicians, {result.changed} changed, in {result.seconds:.2f}s")
    return EXIT_OK


def store(settings: Settings, args: argparse.Namespace) -> int:
    st = open_store(settings)
    if args.store_command == "init":
        st.init()
        print(f"store ready ({st.dialect})")
        return EXIT_OK
    st.check()
    report = import_files(st, load_profile(settings.profile), args.files, skip_invalid=args.skip_invalid)
    if args.json:
        print_json({"imported": dict(report.imported), "refused": [str(p) for p in report.problems]})
    else:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.imported.items())) or "nothing"
        print(f"imported {kinds}" + (f"; refused {len(report.problems)} line(s)" if report.problems else ""))
    return EXIT_INPUT if report.problems else EXIT_OK


def rules(settings: Settings, args: argparse.Namespace) -> int:
    from rules.report import evaluate_store

    st = open_store(settings)
    st.check()
    profile = load_profile(settings.profile)
    year = args.year or today().year
    rows = evaluate_store(st, profile, year, args.physician)
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(f"{profile.city} ({profile.name}), {year}")
    print(f"{'physician':<16} {'points':>6} {'left':>5}  sanctions / due")
    for row in rows:
        left = "" if row["remaining"] is None else str(row["remaining"])
        what = [f"{s['action']} {s['start']}–{s['end'] or '…'} ({s['article']})" for s in row["sanctions"]]
        what += [f"DUE {d['action']} ({d['article']}): {d['reason']}" for d in row["due"]]
        print(f"{row['physician_code']:<16} {row['points']:>6} {left:>5}  {'; '.join(what) or '-'}")
    return EXIT_OK


def seed(settings: Settings, args: argparse.Namespace) -> int:
    from rules.seed import seed as run_seed

    st = open_store(settings)
    n = run_seed(st, args.physicians, progress=lambda done: log.info("seeded %d physicians", done))
    print(f"seeded {n} physicians into {st.dialect} store; now run `drgate sync --full`")
    return EXIT_OK


def status(settings: Settings, args: argparse.Namespace) -> int:
    from cache.reader import UNREAD, SnapshotCache
    from cache.threaded import SnapshotReader
    from gateway.checker import Policy
    from gateway.status import explain

    profile = load_profile(settings.profile)
    reader = SnapshotReader(sync_redis(settings, timeout=5.0), SnapshotCache(Keys(settings.redis_prefix)))
    reader.refresh(None)
    snapshot = reader.cache.snapshot
    if snapshot is None:
        print("drgate: no snapshot is published; run `drgate sync --full`", file=sys.stderr)
        return 1
    record = reader.get_many([args.code])[args.code]
    if record is UNREAD:
        print(f"drgate: the record of {args.code} cannot be read", file=sys.stderr)
        return 1
    print_json(explain(args.code, record, snapshot, args.on or today(), args.institution,
                       Policy.from_settings(settings, profile), profile))
    return EXIT_OK if record is not None else EXIT_INPUT


def api_key(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth import new_key

    key, digest = new_key()
    print(f"key (give to the caller, shown once): {key}")
    print(f"digest (add to DRGATE_API_KEYS):      {digest}")
    return EXIT_OK


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if workers > 1:
        if settings.redis_url is None:
            env_for_workers(settings, redis_url=redis_url(settings))
        uvicorn.run("gateway.app:create_app", factory=True, host=host, port=port, workers=workers,
                    loop="uvloop", http="httptools", access_log=False, log_level="warning")
        return EXIT_OK
    from gateway.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")
    return EXIT_OK


def demo(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.demo import curl_examples, write_demo_data

    var = Path(settings.var_dir)
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
    print("Try:")
    for line in curl_examples(settings.host, settings.port, today()):
        print("  " + line)
    print(f"Docs: http://{settings.host}:{settings.port}/docs   (Ctrl-C stops)")
    sys.stdout.flush()
    return serve(settings, argparse.Namespace(host=None, port=None, workers=1))
