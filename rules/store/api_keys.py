"""The callers' API keys as records of the scoring store: a name, a role, created, revoked.

A key is made here once (256 random bits, URL-safe), handed to whoever asked for it, and only its
SHA-256 is stored.  Revoking a key sets ``revoked_at`` and keeps the row: a name is never reused,
so a log line's ``key:<name>`` names one holder for ever.  The sync publishes the live keys with
the snapshot (``cache.sync``), and gateways take them from there: a key added or revoked works,
or stops working, at the next sync.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from rules.errors import ApiKeyError
from rules.store.scans import Store
from rules.store.schema import ROLES, api_keys

__all__ = ["ROLES", "ApiKey", "ApiKeyError", "active_keys", "add_key", "digest_of", "list_keys", "new_key",
           "revoke_key"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A caller's key as the store holds it: never the key itself."""

    digest: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, str | None]:
        """What `drgate api-key list` and the admin API show: no digest, no key."""
        return {"name": self.name, "role": self.role, "created_at": _iso(self.created_at),
                "revoked_at": None if self.revoked_at is None else _iso(self.revoked_at)}


def digest_of(key: str | bytes) -> str:
    """The SHA-256 of ``key``, hex: what the store and ``DRGATE_API_KEYS`` hold."""
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key (256 random bits, URL-safe) and its digest."""
    key = secrets.token_urlsafe(32)
    return key, digest_of(key)


def add_key(store: Store, name: str, role: str) -> str:
    """Record a new key named ``name`` with ``role``; the key, to be shown once and never again."""
    if not NAME.fullmatch(name):
        raise ApiKeyError(f"a key's name is 1-60 of letters, digits, '.', '_' or '-', starting with a letter or "
                        f"digit; not {name!r}")
    if role not in ROLES:
        raise ApiKeyError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    key, digest = new_key()
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.insert(api_keys).values(digest=digest, name=name, role=role, created_at=_now()))
    except IntegrityError:
        raise ApiKeyError(f"a key named {name} exists (revoked keys keep their name); choose another name") from None
    return key


def revoke_key(store: Store, name: str) -> ApiKey:
    """Revoke the live key ``name``: it stops working at the next sync."""
    with store.engine.begin() as conn:
        done = conn.execute(sa.update(api_keys).where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                            .values(revoked_at=_now()))
        if done.rowcount != 1:
            row = conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.name == name)).first()
            why = "is revoked already" if row is not None else "is not a key of this store"
            raise ApiKeyError(f"{name} {why} (`drgate api-key list` shows them)", missing=row is None)
    found = [k for k in list_keys(store) if k.name == name]
    return found[0]


def list_keys(store: Store) -> list[ApiKey]:
    """Every key, revoked ones included, by name."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.name)).all()
    return [ApiKey(r.digest, r.name, r.role, _utc(r.created_at), None if r.revoked_at is None else _utc(r.revoked_at))
            for r in rows]


def active_keys(store: Store) -> dict[str, tuple[str, str]] | None:
    """Digest → (name, role) of every live key: what the sync publishes.  None while the store has
    never held a key: gateways then require none (once a key was made, revoking them all closes them)."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(api_keys.c.digest, api_keys.c.name, api_keys.c.role, api_keys.c.revoked_at)).all()
    if not rows:
        return None
    return {r.digest: (r.name, r.role) for r in rows if r.revoked_at is None}


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """SQLite gives the moment back without its zone; it was written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
