"""The store and the in-process checker of one test, end to end: import, publish, decide a line.

The ``gate`` fixture (tests/conftest.py) makes one over the test's store, Redis prefix and profile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from cache.blocking_reader import SnapshotReader
from cache.keys import Keys
from cache.snapshot_cache import SnapshotCache
from cache.sync import Syncer
from gateway.check.core import DecidedLine, Policy
from gateway.checker import Checker
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.rows import PHYSICIAN, SITE_A, Row

__all__ = ["Gate", "Write"]

#: The ``write_jsonl`` fixture: rows (or raw lines) to a JSON Lines file, its path.
Write = Callable[[list[Row | str]], Path]


class Gate:
    """The store and the in-process checker of one test: ``load`` imports and publishes, ``line`` decides."""

    def __init__(self, store: Store, syncer: Syncer, redis_: redis.Redis, keys: Keys, profile: Profile,
                 write: Write, settings: Settings) -> None:
        self.store, self.syncer, self.profile, self.write = store, syncer, profile, write
        self.reader = SnapshotReader(redis_, SnapshotCache(keys))
        self.checker = Checker(self.reader, Policy.from_settings(settings, profile))

    def load(self, rows: list[Row | str], *, incremental: bool = False, allow_shrink: bool = False) -> None:
        import_files(self.store, self.profile, [self.write(rows)])
        with self.syncer.lock():
            if incremental:
                self.syncer.incremental(allow_shrink=allow_shrink)
            else:
                self.syncer.full(allow_shrink=allow_shrink)
        self.reader.refresh(None)  # the poll every gateway runs besides the invalidation messages

    def line(self, on: str, site: str = SITE_A, code: str = PHYSICIAN, *, emergency: bool = False) -> DecidedLine:
        result = self.checker.check({"claim_id": "C-1", "institution_code": site, "service_date": on,
                                     "emergency": emergency,
                                     "lines": [{"line_id": "1", "physician_code": code}]})
        return result.lines[0]
