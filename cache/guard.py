"""The shrink guard: a sync that would drop markedly more of the snapshot's content than
``DRGATE_MAX_SHRINK`` publishes nothing (exit 4), so a truncated or emptied export never turns
into false passes (the sanctions gone) or false rejections (the agreements gone).

Both sides are counted on the same day, today (``cache.tally``): the published snapshot's
tally, read from its generation's ``t`` hash, against the one the sync would publish.  A count
that is 0 in the published snapshot never blocks.  A snapshot published before the tally
existed has only ``meta``'s physician count: that one is guarded, the rest from the next
full sync on.
"""

from __future__ import annotations

import logging

import redis

from cache.codec import decode_institution, decode_physician
from cache.errors import CorruptRecord, ShrinkRefused, SyncError
from cache.keys import OVERFLOW, Keys, bucket_of
from cache.tally import COUNTS, Tally, institution_steps, physician_steps
from rules.model import InstitutionRecord, PhysicianRecord

__all__ = ["check_shrink", "published_counts", "published_records", "published_tally", "tally_change"]

log = logging.getLogger(__name__)


def published_tally(client: redis.Redis, keys: Keys, meta: dict[str, str]) -> Tally | None:
    """The published snapshot's tally; None when nothing is published or it has none (an older sync's)."""
    if "generation" not in meta:
        return None
    raw: dict[bytes, bytes] = client.hgetall(keys.tally(int(meta["generation"])))  # type: ignore[assignment]
    if not raw:
        log.warning("the published snapshot has no content counts (published by an older drgate); "
                    "the shrink guard counts physicians only until the next full sync")
        return None
    try:
        return Tally.from_fields(raw)
    except ValueError as exc:
        raise SyncError(f"the published snapshot's content counts do not decode ({exc}); "
                        "run `drgate sync --full`") from None


def published_counts(tally: Tally | None, meta: dict[str, str], today: int) -> dict[str, int]:
    """The published snapshot's counts on ``today`` (its physicians only when it has no tally)."""
    return tally.on(today) if tally is not None else {"physicians": int(meta.get("physicians", 0))}


def check_shrink(before: dict[str, int], after: dict[str, int], max_share: float) -> None:
    """``ShrinkRefused`` naming every count that falls by more than ``max_share``, from what to what."""
    fallen = [
        (before[name], after[name], what)
        for name, what in COUNTS.items()
        if before.get(name, 0) and after[name] < before[name] * (1 - max_share)
    ]
    if fallen:
        raise ShrinkRefused(fallen, max_share)


def published_records(
    client: redis.Redis, keys: Keys, generation: int, buckets: int, codes: list[str], institutions: list[str]
) -> tuple[dict[str, PhysicianRecord], dict[str, InstitutionRecord]]:
    """The published records of these physicians and institutions (those it has): what an
    incremental sync replaces, whose steps leave the tally."""
    with client.pipeline(transaction=False) as pipe:
        for code in codes:
            pipe.hget(keys.bucket(generation, bucket_of(code, buckets)), code)
        if institutions:
            pipe.hmget(keys.institutions(generation), institutions)
        replies = pipe.execute()
    raw = {code: value for code, value in zip(codes, replies, strict=False) if value is not None}
    overflow = [code for code, value in raw.items() if value == OVERFLOW]
    if overflow:
        raw.update(zip(overflow, client.hmget(keys.overflow(generation), overflow), strict=True))
    try:
        physicians = {code: decode_physician(code, value) for code, value in raw.items() if value is not None}
        found = dict(zip(institutions, replies[len(codes)], strict=True)) if institutions else {}
        institution_records = {code: decode_institution(code, value) for code, value in found.items()
                               if value is not None}
    except CorruptRecord as exc:
        raise SyncError(f"{exc}: the incremental sync cannot count what it replaces; run `drgate sync --full`"
                        ) from None
    return physicians, institution_records


def tally_change(new: Tally, old: dict[str, PhysicianRecord],
                 old_institutions: dict[str, InstitutionRecord], new_institutions: dict[str, InstitutionRecord],
                 ) -> Tally:
    """The steps an incremental sync adds to the published tally: the new records' (``new``, the
    physicians' steps) minus the old ones'."""
    change = Tally(dict(new.deltas))
    for record in old.values():
        change.add(physician_steps(record), -1)
    for institution in new_institutions.values():
        change.add(institution_steps(institution))
    for institution in old_institutions.values():
        change.add(institution_steps(institution), -1)
    return change
