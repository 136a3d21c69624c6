"""A worker's spool of decision-log entries Redis has not taken yet: they survive a restart.

While Redis refuses the writer, each failed flush appends the entries not yet spooled to the
worker's spool file (one serialised entry a line: orjson never writes a newline inside one), so
a worker killed during an outage loses only what it answered since the last attempt (the flush
interval, 100 ms).  Once the writer has written every entry, the file is emptied.  A worker
starting takes over the spool files no live worker holds, appends their entries to its own and
writes them first: entries written twice (a kill between a write and the emptying) carry the
same decision id, and the archiver keeps one.

Each worker holds an exclusive ``flock`` on its own file for its lifetime; a file whose lock can
be taken belongs to no live process.  The spool survives a process kill, not a machine crash:
it is not fsynced (the page cache outlives the process; a fsync per flush would cost a disk
write every 100 ms of an outage).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from pathlib import Path

__all__ = ["Spool"]

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"decisions-{os.getpid()}-{secrets.token_hex(4)}.spool"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours: a new file nobody else holds
        self.entries = 0  # entries in the file now

    def recover(self) -> list[bytes]:
        """The entries of spool files no live worker holds, moved into this one; oldest file first."""
        found: list[bytes] = []
        others = sorted((p for p in self.directory.glob("decisions-*.spool") if p != self.path),
                        key=lambda p: p.stat().st_mtime)
        for other in others:
            try:
                fd = os.open(other, os.O_RDWR)
            except FileNotFoundError:  # another worker took it first
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a live worker's
                    continue
                with open(fd, "rb", closefd=False) as f:
                    data = f.read()
                entries = [line for line in data.split(b"\n") if line]
                if data and not data.endswith(b"\n"):
                    entries.pop()  # a write torn by a crash of the machine: never a whole entry
                self.write(entries)
                found.extend(entries)
                other.unlink()
            finally:
                os.close(fd)
        if found:
            log.warning("decision log: %d entries of a stopped worker's spool recovered; writing them first",
                        len(found))
        return found

    def write(self, entries: list[bytes]) -> None:
        if entries:
            os.write(self._fd, b"".join(e + b"\n" for e in entries))
            self.entries += len(entries)

    def clear(self) -> None:
        """Every spooled entry is in Redis: empty the file."""
        if self.entries:
            os.ftruncate(self._fd, 0)
            self.entries = 0

    def close(self) -> None:
        """Release the file; an empty one is removed, one with entries stays for the next worker."""
        if self._fd < 0:
            return
        empty = self.entries == 0
        os.close(self._fd)
        self._fd = -1
        if empty:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
