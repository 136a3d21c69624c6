"""An institution's own doctor codes (HIS ids, practising-certificate numbers) → 医保医师代码.

Many HIS send their own doctor id, or the 医师执业证书编码, in ``bilg_dr_codg``/``drord_dr_codg``
where the platform expects the 医保医师代码 (``D`` + region + sequence).  The scoring store's
``physician_alias`` records (``institution_code``, ``local_code``, ``physician_code``, optional
``start``/``end``) map them; the sync publishes them with the snapshot and every gateway worker
holds them in memory (``Snapshot.aliases``), so a mapped line costs no Redis round trip.

Matching ignores case: 医保医师代码 are upper-case by the national coding rule, and HIS code
sends ``d330802000001`` as often as ``D330802000001``.  The answer keeps naming the code that
was sent; the decision is made on the code it maps to.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.check.claim import service_day

__all__ = ["Aliases", "resolve"]

#: institution_code → LOCAL CODE (upper-cased) → ((physician_code, start, end), ...), days as ordinals.
Aliases = Mapping[str, Mapping[str, tuple[tuple[str, int, int], ...]]]


def resolve(aliases: Aliases | None, institution: str, code: str, day: str) -> str:
    """The 医保医师代码 a line at ``institution`` on ``day`` stands for."""
    upper = code.upper()
    if aliases:
        local = aliases.get(institution)
        if local:
            entries = local.get(upper)
            if entries:
                on = service_day(day)
                for physician, start, end in entries:
                    if start <= on < end:
                        return physician
    return upper
