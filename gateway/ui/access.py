"""Who is at the workbench and what their role lets them do there.

A person logs in with an API key; the key's role decides (the role model of the API keys):

    settlement   nothing of /ui/ (the settlement pipeline's keys check claims only)
    helpdesk     the read pages: physicians, decisions, the due list
    officer      + the forms that record violations, restoration requests, revocations, appeals, notices
    admin        + publish

The grants are the API's (``gateway.api.roles``): a page needs what the API route behind the same
act needs.  The keys come from the ring the API's guard holds (``app.state.keys``), looked up by
digest: the session cookie carries the digest, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.api.auth import Caller
from gateway.api.roles import PUBLISH, READ, WRITE, allowed

__all__ = ["PUBLISH", "READ", "WORKBENCH_ROLES", "WRITE", "Caller", "KeyLookup", "Viewer", "may"]

#: The roles that may open the workbench at all (``settlement`` keys check claims only).
WORKBENCH_ROLES = ("helpdesk", "officer", "admin")


class KeyLookup(Protocol):
    """The keys a worker knows (``gateway.api.auth.KeyRing``, the API guard's)."""

    def find(self, key: bytes) -> Caller | None: ...

    def by_digest(self, digest: bytes) -> Caller | None: ...


def may(role: str | None, need: str) -> bool:
    """Whether a key of ``role`` may do ``need`` at the workbench: what the role may do through the
    API (``gateway.api.roles.GRANTS``), and never anything for a role outside the workbench."""
    return role in WORKBENCH_ROLES and allowed(role, need)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person a page is rendered for: their key's name and role, and their form token."""

    name: str
    role: str
    form_token: str

    @property
    def can_write(self) -> bool:
        return may(self.role, WRITE)

    @property
    def can_publish(self) -> bool:
        return may(self.role, PUBLISH)
