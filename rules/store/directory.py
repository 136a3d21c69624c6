"""The registry's names, for people: find a physician by code or name, name an institution.

The workbench's search box (``/ui/``) types a code (``D330802000001``, exact or its start) or a
part of a name (示例); the claim check and the sync never read names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from rules.store.scans import Store
from rules.store.schema import institutions, physicians

__all__ = ["Listed", "find_physicians", "institution_names", "physician_name"]


@dataclass(frozen=True, slots=True)
class Listed:
    """A physician as a search lists them."""

    code: str
    name: str


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching itself only (``%`` and ``_`` taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_physicians(store: Store, text: str, limit: int = 50) -> list[Listed]:
    """Physicians whose code starts with ``text`` or whose name holds it, codes first, by code."""
    text = text.strip()
    if not text:
        return []
    pattern = _like(text)
    query = (sa.select(physicians.c.code, physicians.c.name)
             .where(sa.or_(physicians.c.code.like(f"{pattern}%", escape="\\"),
                           physicians.c.name.like(f"%{pattern}%", escape="\\")))
             .order_by(physicians.c.code).limit(limit))
    with store.engine.connect() as conn:
        found = [Listed(r.code, r.name) for r in conn.execute(query)]
    return sorted(found, key=lambda p: (not p.code.startswith(text), p.code))


def physician_name(store: Store, code: str) -> str | None:
    """The physician's name, or None when the registry does not know the code."""
    with store.engine.connect() as conn:
        name: str | None = conn.execute(sa.select(physicians.c.name).where(physicians.c.code == code)).scalar()
    return name


def institution_names(store: Store, codes: Iterable[str]) -> dict[str, str]:
    """Code → name of the institutions the registry knows among ``codes``."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(institutions.c.code, institutions.c.name)
                            .where(institutions.c.code.in_(wanted)))
        return {r.code: r.name for r in rows}
