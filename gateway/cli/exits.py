"""The exit codes of every `drgate` command, defined once (docs/cli.md lists them for cron and CI)."""

from __future__ import annotations

from cache.errors import ShrinkRefused, SyncError, SyncLocked

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_LOCKED", "EXIT_OK", "EXIT_SHRINK", "sync_exit_code",
           "sync_outcome"]

EXIT_OK = 0  # done
EXIT_FAILED = 1  # could not be done: Redis or the store unreachable, a check failed
EXIT_INPUT = 2  # bad input: a file, a flag or a setting named in the message
EXIT_LOCKED = 3  # another sync holds the lock; nothing was published
EXIT_SHRINK = 4  # the content guard refused a publication that dropped too much
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def sync_exit_code(exc: SyncError) -> int:
    """What `drgate sync` exits with when the sync did not publish (a lost lock: failed, run it again)."""
    if isinstance(exc, SyncLocked):
        return EXIT_LOCKED
    if isinstance(exc, ShrinkRefused):
        return EXIT_SHRINK
    return EXIT_FAILED


def sync_outcome(exc: BaseException) -> tuple[str, int]:
    """How a sync that raised ``exc`` ended: the outcome its metrics file records, and the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    code = sync_exit_code(exc) if isinstance(exc, SyncError) else EXIT_FAILED
    return _OUTCOMES.get(code, "failed"), code


_OUTCOMES = {EXIT_LOCKED: "locked", EXIT_SHRINK: "shrink_refused"}
