"""The workbench's sessions: a signed cookie naming the key that logged in, and the forms' tokens.

The session cookie (``drgate_ui``) holds the key's SHA-256 (never the key), the moment of login
and a random nonce, signed with HMAC-SHA256 under ``DRGATE_UI_SECRET``; it is ``HttpOnly``,
``SameSite=Strict``, scoped to ``/ui/`` (under the root path a proxy serves drgate at), and
``Secure`` when ``DRGATE_UI_SECURE_COOKIE`` is set.  Every request looks the digest up among the
keys the worker knows, so a revoked key's session ends with the key, at the next sync.

Forms carry a token against cross-site request forgery: bound to the session (HMAC of its nonce)
on every page behind the login, and a double-submitted random token (cookie ``drgate_ui_login``
and the form's field) on the login form, which has no session yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
from starlette.responses import Response

__all__ = ["COOKIE", "LOGIN_COOKIE", "Session", "Sessions"]

COOKIE = "drgate_ui"
LOGIN_COOKIE = "drgate_ui_login"
PATH = "/ui/"


@dataclass(frozen=True, slots=True)
class Session:
    """Who logged in (the SHA-256 hex of their key), when (Unix seconds), and the session's nonce."""

    digest: str
    issued: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Makes and reads session cookies and form tokens under one secret."""

    def __init__(self, secret: bytes, lifetime_seconds: float, *, secure: bool = False) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds
        self.secure = secure

    def _sign(self, purpose: bytes, payload: bytes) -> bytes:
        return hmac.new(self._secret, purpose + b"\x00" + payload, hashlib.sha256).digest()

    def make(self, digest: str, now: float | None = None) -> str:
        """A new session's cookie value for the key whose SHA-256 hex is ``digest``."""
        body = orjson.dumps({"d": digest, "t": int(now if now is not None else time.time()),
                             "n": secrets.token_urlsafe(16)})
        return f"{_b64(body)}.{_b64(self._sign(b'session', body))}"

    def read(self, value: str | None, now: float | None = None) -> Session | None:
        """The session a cookie value carries, or None: absent, forged, malformed or expired."""
        if not value or value.count(".") != 1:
            return None
        head, tail = value.split(".")
        try:
            body, mac = _unb64(head), _unb64(tail)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._sign(b"session", body)):
            return None
        try:
            fields = orjson.loads(body)
            session = Session(str(fields["d"]), int(fields["t"]), str(fields["n"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        age = (now if now is not None else time.time()) - session.issued
        return session if 0 <= age < self.lifetime else None

    def form_token(self, session: Session) -> str:
        """The token every form of this session carries (bound to its nonce)."""
        return _b64(self._sign(b"form", session.nonce.encode()))

    def form_token_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.form_token(session).encode())

    @staticmethod
    def login_token() -> str:
        """A fresh token for the login form, sent as a cookie and a field alike (double submit)."""
        return secrets.token_urlsafe(24)

    @staticmethod
    def login_token_ok(cookie: str | None, field: str | None) -> bool:
        return bool(cookie) and bool(field) and hmac.compare_digest(str(cookie).encode(), str(field).encode())

    def set_cookie(self, response: Response, name: str, value: str, max_age: int, root: str) -> None:
        """Send cookie ``name`` as every cookie of the workbench is sent, drgate served under ``root``
        (``/gw``; "" at ``/``): the browser sends it back to the workbench's pages only."""
        response.set_cookie(name, value, max_age=max_age, path=root + PATH, httponly=True, samesite="strict",
                            secure=self.secure)

    def drop_cookie(self, response: Response, name: str, root: str) -> None:
        """Tell the browser to forget cookie ``name`` (sent by ``set_cookie`` under the same ``root``)."""
        response.delete_cookie(name, path=root + PATH, httponly=True, samesite="strict", secure=self.secure)
