"""Who may call what: each key's role, what each role is granted, and the one table of route → need.

Roles (``rules.store.schema.ROLES``), from the settlement pipeline to the agency's administrator:

    settlement   check routes only: ``POST /v1/claims/check``, ``POST /nhsa/{infno}``
    helpdesk     read: physicians, decisions, the admin API's lists and history (due lists)
    officer      helpdesk + write records (``POST``/``PUT /admin/v1/records``)
    admin        officer + publish (``POST /admin/v1/publish``) + keys (``/admin/v1/keys``)

``RULES`` is the one place a route's need is written; ``ApiKeyGuard`` (``gateway.api.auth``)
applies it to FastAPI's routes, to the claim check served ahead of FastAPI and to ``/nhsa/``.
A path outside ``PROTECTED`` is the guard's business only if listed; the probes, the metrics
and the OpenAPI document are open.  A protected path no rule names needs a key of any role
(it answers 404 or 405 once the key is known).  ``tests/test_roles.py`` walks every route of
the app with every role.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.store.schema import ROLES

__all__ = ["ANY", "CHECK", "GRANTS", "KEYS", "NEEDS", "PROTECTED", "PUBLISH", "READ", "ROLES", "RULES", "WRITE",
           "Rule", "allowed", "need_of"]

CHECK = "check"  # decide a claim (the settlement pipeline's every request)
READ = "read"  # explain: physicians, decisions, records, history, due lists
WRITE = "write"  # record or correct a record of the import contract
PUBLISH = "publish"  # run an incremental sync
KEYS = "keys"  # list, add and revoke API keys
ANY = "any"  # a key of any role: a protected path no rule names
NEEDS = (CHECK, READ, WRITE, PUBLISH, KEYS, ANY)

#: What each role may do.
GRANTS: dict[str, frozenset[str]] = {
    "settlement": frozenset({CHECK, ANY}),
    "helpdesk": frozenset({READ, ANY}),
    "officer": frozenset({READ, WRITE, ANY}),
    "admin": frozenset({READ, WRITE, PUBLISH, KEYS, ANY}),
}
assert set(GRANTS) == set(ROLES)

#: Paths the guard stands before; the others (probes, metrics, docs, /ui/ with its own sessions) are open.
PROTECTED = ("/v1/", "/nhsa/", "/admin/")


@dataclass(frozen=True, slots=True)
class Rule:
    """``method`` on ``path`` needs ``need``; a ``path`` ending in ``/`` covers every path under it."""

    method: str
    path: str
    need: str


RULES: tuple[Rule, ...] = (
    Rule("POST", "/v1/claims/check", CHECK),
    Rule("POST", "/nhsa/", CHECK),  # every transaction of the national platform, 3103 feedback included
    Rule("GET", "/v1/physicians/", READ),
    Rule("GET", "/v1/decisions", READ),
    Rule("GET", "/v1/decisions/", READ),
    Rule("GET", "/admin/v1/", READ),  # record lists, a physician's history
    Rule("POST", "/admin/v1/records", WRITE),
    Rule("PUT", "/admin/v1/records", WRITE),
    Rule("POST", "/admin/v1/publish", PUBLISH),
    Rule("GET", "/admin/v1/keys", KEYS),
    Rule("POST", "/admin/v1/keys", KEYS),
    Rule("POST", "/admin/v1/keys/", KEYS),  # /admin/v1/keys/{name}/revoke
)

_EXACT = {(r.method, r.path): r.need for r in RULES if not r.path.endswith("/")}
_PREFIXES = sorted(((r.method, r.path, r.need) for r in RULES if r.path.endswith("/")), key=lambda r: -len(r[1]))


def need_of(method: str, path: str) -> str | None:
    """What ``method`` on the routed ``path`` needs; None: open to anyone."""
    if not path.startswith(PROTECTED):
        return None
    method = "GET" if method == "HEAD" else method
    need = _EXACT.get((method, path))
    if need is not None:
        return need
    for rule_method, prefix, need in _PREFIXES:
        if rule_method == method and path.startswith(prefix):
            return need
    return ANY


def allowed(role: str | None, need: str) -> bool:
    """Whether a key of ``role`` (None: no key) may do what ``need`` names."""
    return role is not None and need in GRANTS.get(role, frozenset())
