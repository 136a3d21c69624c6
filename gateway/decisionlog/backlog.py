"""What a gateway worker sees of the archiver's progress through the decision log.

The log's trim waits for the archive's consumer group (``gateway.decisionlog.retention``): while
the archiver is behind the log keeps its unread entries past the entry and age bounds, up to the
byte bound, which binds regardless.  This watch reads, at most every ``recheck`` seconds, the
group's ``lag`` and ``pending`` (``XINFO GROUPS``) and the ledger's ``held`` and ``unarchived``
(entries the byte bound trimmed before the group read them, until an archiver takes the count),
logs when the archiver falls behind or entries are lost to it, and gives ``/readyz`` its warning
and ``/metrics`` its gauges.  No archive group (no archiver ever ran): nothing to say.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from cache.keys import Keys
from gateway.decisionlog.retention import ARCHIVE_GROUP

__all__ = ["ArchiveBacklog"]

log = logging.getLogger(__name__)

#: Seconds a worker reuses its last look (``/readyz`` is probed every few seconds).
RECHECK_SECONDS = 10.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ArchiveBacklog:
    def __init__(self, client: aioredis.Redis, keys: Keys, recheck: float = RECHECK_SECONDS) -> None:
        self.redis = client
        self.stream = keys.decisions
        self.size = keys.decision_size
        self.recheck = recheck
        self.grouped = False  # an archive group exists
        self.lag = 0  # entries the group has not read, plus those it read and did not acknowledge
        self.held = False  # the trim keeps entries past the entry or age bound for the group
        self.trimmed = 0  # entries the byte bound dropped before the group read them
        self._checked = float("-inf")
        self._said = (False, 0)  # what the log last said: behind, trimmed

    @property
    def behind(self) -> bool:
        """The archiver is behind the log's own bounds: the log holds entries for it."""
        return self.grouped and self.held and self.lag > 0

    async def check(self) -> None:
        """Look again when the last look is older than ``recheck``; a Redis failure keeps the last."""
        if time.monotonic() - self._checked < self.recheck:
            return
        self._checked = time.monotonic()
        try:
            groups: Any = await self.redis.xinfo_groups(self.stream)
            held, trimmed = await self.redis.hmget(self.size, ["held", "unarchived"])
        except ResponseError:  # no stream yet
            groups, held, trimmed = [], None, None
        except (RedisError, OSError) as exc:
            log.debug("decision archive backlog: redis unavailable (%s)", type(exc).__name__)
            return
        group = next((g for g in groups if _text(g.get("name")) == ARCHIVE_GROUP), None)
        self.grouped = group is not None
        self.lag = 0 if group is None else int(group.get("lag") or 0) + int(group.get("pending") or 0)
        self.held = held is not None
        self.trimmed = int(trimmed or 0)
        self._say()

    def _say(self) -> None:
        now = (self.behind, self.trimmed)
        if now == self._said:
            return
        if self.trimmed > self._said[1]:
            log.error("decision archive: %d decision-log entries were trimmed before the archiver read them "
                      "(DRGATE_DECISION_LOG_MAX_BYTES reached); they will not be archived", self.trimmed)
        if self.behind and not self._said[0]:
            log.warning("decision archive: the archiver is behind (%d entries to archive); the decision log "
                        "keeps them past its entry and age bounds, up to DRGATE_DECISION_LOG_MAX_BYTES", self.lag)
        elif self._said[0] and not self.behind:
            log.info("decision archive: the archiver has caught up")
        self._said = now

    def warning(self) -> str | None:
        """``/readyz``'s warning, or None (still ready: the check answers without the archive)."""
        said = []
        if self.behind:
            said.append(f"the decision archiver is behind ({self.lag} entries to archive): the decision log keeps "
                        "them past DRGATE_DECISION_LOG_MAXLEN and _MAX_AGE, and drops the oldest unarchived ones "
                        "once DRGATE_DECISION_LOG_MAX_BYTES is reached")
        if self.trimmed:
            said.append(f"{self.trimmed} decision-log entries were trimmed before the archiver read them: they are "
                        "not in the archive (the archiver counts them and exits 1 under --once)")
        return "; ".join(said) or None
