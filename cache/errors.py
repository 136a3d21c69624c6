"""Errors of the cache package.

    CacheError
    ├── CorruptRecord     a record in Redis does not decode (the line gets `unverified`)
    ├── NoSnapshot        nothing has been published yet (run `drgate sync --full`)
    └── SyncError         a sync did not publish; ``exit_code`` is what `drgate sync` exits with
        ├── LockLost      the lock expired or was taken mid-sync (exit 1)
        ├── SyncLocked    another sync holds the lock (exit 3)
        └── ShrinkRefused the snapshot would lose content past the guard (exit 4)
"""

from __future__ import annotations

__all__ = ["CacheError", "CorruptRecord", "LockLost", "NoSnapshot", "ShrinkRefused", "SyncError", "SyncLocked"]


class CacheError(Exception):
    """Base class of every error the cache package raises on purpose."""


class CorruptRecord(CacheError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"record of {code} in Redis does not decode")


class NoSnapshot(CacheError):
    def __init__(self) -> None:
        super().__init__("no snapshot is published; run `drgate sync --full`")


class SyncError(CacheError):
    exit_code = 1


class SyncLocked(SyncError):
    exit_code = 3


class LockLost(SyncError):
    def __init__(self) -> None:
        super().__init__(
            "the sync lost its lock (it expired, or Redis restarted) before publishing; nothing was published. "
            "Run it again; if it recurs, the sync stalls longer than the lock's TTL"
        )


class ShrinkRefused(SyncError):
    """``fallen``: (published, new, what) of every count that fell past the share; the first is
    also ``current``, ``new``, ``what``."""

    exit_code = 4

    def __init__(self, fallen: list[tuple[int, int, str]], max_share: float) -> None:
        self.fallen, self.max_share = fallen, max_share
        self.current, self.new, self.what = fallen[0]
        drops = "; ".join(f"{what} from {current} to {new}" for current, new, what in fallen)
        super().__init__(
            f"the new snapshot would drop more than {max_share:.0%} of the published one: {drops}; "
            "nothing published. Check the store, or pass --allow-shrink"
        )
