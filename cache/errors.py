"""Errors of the cache package.

    CacheError
    ├── CorruptRecord         a record in Redis does not decode (the line gets `unverified`)
    ├── NoSnapshot            nothing has been published yet (run `drgate sync --full`)
    ├── SnapshotFileRefused   the last good snapshot on disk is not used; the message says why
    └── SyncError             a sync did not publish
        ├── LockLost          the lock expired or was taken mid-sync
        ├── SyncLocked        another sync holds the lock
        └── ShrinkRefused     the snapshot would lose content past the guard

What `drgate sync` exits with for each is decided once, by the command line
(``gateway.cli.exits.sync_exit_code``): the cache knows nothing of processes.
"""

from __future__ import annotations

__all__ = ["CacheError", "CorruptRecord", "LockLost", "NoSnapshot", "ShrinkRefused", "SnapshotFileRefused", "SyncError",
           "SyncLocked"]


class CacheError(Exception):
    """Base class of every error the cache package raises on purpose."""


class CorruptRecord(CacheError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"record of {code} in Redis does not decode")


class NoSnapshot(CacheError):
    def __init__(self) -> None:
        super().__init__("no snapshot is published; run `drgate sync --full`")


class SnapshotFileRefused(CacheError):
    """Why a snapshot file is not used (said in the log, with the file's path)."""


class SyncError(CacheError):
    pass


class SyncLocked(SyncError):
    pass


class LockLost(SyncError):
    def __init__(self) -> None:
        super().__init__(
            "the sync lost its lock (it expired, or Redis restarted) before publishing; nothing was published. "
            "Run it again; if it recurs, the sync stalls longer than the lock's TTL"
        )


class ShrinkRefused(SyncError):
    """``fallen``: (published, new, what) of every count that fell past the share; the first is
    also ``current``, ``new``, ``what``."""

    def __init__(self, fallen: list[tuple[int, int, str]], max_share: float) -> None:
        self.fallen, self.max_share = fallen, max_share
        self.current, self.new, self.what = fallen[0]
        drops = "; ".join(f"{what} from {current} to {new}" for current, new, what in fallen)
        super().__init__(
            f"the new snapshot would drop more than {max_share:.0%} of the published one: {drops}; "
            "nothing published. Check the store, or pass --allow-shrink"
        )
