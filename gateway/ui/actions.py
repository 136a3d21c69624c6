"""What the workbench's forms do to the store and the snapshot: record one record, publish.

``record`` writes one record of the import contract through the admin API's writer
(``rules.store.importer.import_records``: the validation and messages of `drgate store import`,
one transaction, the change log the incremental sync reads, and the version it replaces kept in
the history with the key's name and the reason); ``publish`` is the admin API's publish
(``gateway.admin.workbench.Workbench.publish``: an incremental sync under the sync lock).  Both
block: the pages call them in a thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from cache.errors import LockLost, ShrinkRefused, SyncLocked
from gateway.admin.workbench import Workbench
from gateway.errors import PublishRefused
from rules.errors import ImportFileError, LineProblem
from rules.store.importer import REQUEST, import_records

__all__ = ["publish", "record"]


def record(bench: Workbench, row: dict[str, Any], who: str, reason: str | None, *,
           correcting: bool) -> list[LineProblem]:
    """Write ``row`` as ``who`` (``key:<name>``) for ``reason``; the problems that refused it (none: written).

    A new record must be new, a correction (``correcting``, with its reason) must correct a stored
    one: as ``POST`` and ``PUT /admin/v1/records``."""
    try:
        import_records(bench.store, bench.profile, [row], actor=who, reason=reason,
                       expect="stored" if correcting else "new", calendar=bench.calendar)
    except ImportFileError as exc:
        return exc.problems
    except IntegrityError:  # another officer wrote the same record meanwhile
        return [LineProblem(REQUEST, 1, "(record)", "written by another request meanwhile; submit again")]
    return []


def publish(bench: Workbench) -> dict[str, Any]:
    """An incremental sync of what changed since the last one; what it published."""
    try:
        return bench.publish()
    except SyncLocked:
        raise PublishRefused("另一个同步正在发布, 请几秒后重试 (another sync holds the lock)") from None
    except (ShrinkRefused, LockLost) as exc:
        raise PublishRefused(str(exc)) from exc
