"""The store's live API keys as the snapshot publishes them (``{prefix}:callers``, ``cache.keys``).

A hash of SHA-256 hex → ``{"name", "role"}`` JSON, never a key; and its id, a digest of the whole
table, in ``meta`` (field ``callers``): a gateway re-reads the hash only when the id moved.  A
published table, even empty (every key revoked), makes gateways require a key on every protected
route; no table (the store never held a key) leaves checks and reads open, as before keys existed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import orjson

__all__ = ["META_FIELD", "encode_callers", "table_id"]

#: meta's field holding the published table's id.
META_FIELD = "callers"


def encode_callers(active: Mapping[str, tuple[str, str]] | None) -> tuple[dict[str, bytes], str | None]:
    """The hash's fields for ``active`` (digest → (name, role)) and the table's id; no id (nothing
    published, gateways require no key) when the store has never held a key."""
    if active is None:
        return {}, None
    fields = {digest: orjson.dumps({"name": name, "role": role}) for digest, (name, role) in sorted(active.items())}
    return fields, table_id(fields)


def table_id(fields: Mapping[str, bytes] | Mapping[bytes, bytes]) -> str:
    """The id of a table of keys: what ``meta`` names, so a reader can tell it read that table."""
    named = ((d.decode() if isinstance(d, bytes) else d, v.decode()) for d, v in fields.items())
    return hashlib.sha256(orjson.dumps(sorted(named))).hexdigest()[:32]
