"""The web session: a signed, expiring cookie that names an API key without holding it.

A person logs in with an API key once. The cookie then carries, signed with HMAC-SHA256 under
``EMS_API_SESSION_SECRET`` (the same on every replica, so any replica accepts it):

- ``k``: the key's public id;
- ``b``: a binding to that exact key, HMAC(secret, "bind" | the key's stored SHA-256) cut to
  128 bits; neither the key nor its hash is in the cookie;
- ``c``: the session's CSRF token (random, checked on every form POST);
- ``i``: the session's id (random), which logging out revokes (``api.web.revocation``);
- ``t``: when the session was opened, ``e``: when it ends (epoch seconds; the cookie's Max-Age
  says the same). A cookie whose ``e`` lies more than the server's maximum age after its ``t``
  is refused whoever signed it, and so is one opened in the future: the server's maximum age
  caps every session, also one signed under an older, longer setting.

On every request the cookie's signature and times are checked, its id against the revoked
sessions (shared by every replica), then the key is read again through ``KeyStore.active``
(which every replica shares through the records database): a revoked key ends its sessions
within the key cache time, and the role, enterprise and regions always come from the key's
record, never from the cookie. Forging a session needs both the secret and the stored hash of a
live key. Logging out revokes the session server-side, so a copy of the cookie taken earlier
stops working too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

COOKIE = "ems_session"
CLOCK_SKEW_S = 60  # a session may seem opened this far in the future (replicas' clocks)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    key_id: str
    binding: str
    csrf: str
    expires_s: int
    session_id: str
    issued_s: int


class SessionCodec:
    """Issues and reads session cookies under one secret."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret needs at least 32 characters")
        self._secret = secret.encode("utf-8")
        self.max_age_s = max_age_s

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self._secret, b"|".join(parts), hashlib.sha256).digest()

    def binding(self, key_sha256: str) -> str:
        """Proof that the session was opened with the key whose stored hash this is."""
        return _b64(self._mac(b"bind", key_sha256.encode("ascii"))[:16])

    def issue(self, key_id: str, key_sha256: str, now_s: int) -> tuple[Session, str]:
        """A new session for a key that was just checked, and its cookie value."""
        session = Session(key_id, self.binding(key_sha256), secrets.token_urlsafe(24),
                          now_s + self.max_age_s, secrets.token_urlsafe(16), now_s)
        payload = _b64(orjson.dumps({"k": session.key_id, "b": session.binding,
                                     "c": session.csrf, "i": session.session_id,
                                     "t": session.issued_s, "e": session.expires_s}))
        return session, f"{payload}.{_b64(self._mac(b'session', payload.encode()))}"

    def read(self, cookie: str, now_s: int) -> Session | None:
        """The session of a cookie that this secret signed and that has not expired, whose
        lifetime is within the maximum age (revocation is checked by the caller)."""
        payload, _, sig = cookie.partition(".")
        if not payload or not sig or len(cookie) > 1024:
            return None
        try:
            ok = hmac.compare_digest(_unb64(sig), self._mac(b"session", payload.encode()))
            data = orjson.loads(_unb64(payload)) if ok else None
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        key_id, binding, csrf, sid, issued, expires = (
            data.get(n) for n in ("k", "b", "c", "i", "t", "e"))
        if not (isinstance(key_id, str) and isinstance(binding, str) and isinstance(csrf, str)
                and isinstance(sid, str) and isinstance(issued, int)
                and isinstance(expires, int)):
            return None
        if not now_s < expires <= issued + self.max_age_s or issued > now_s + CLOCK_SKEW_S:
            return None
        return Session(key_id, binding, csrf, expires, sid, issued)

    def bound_to(self, session: Session, key_sha256: str) -> bool:
        """True when the session was opened with the key of this stored hash."""
        return hmac.compare_digest(session.binding, self.binding(key_sha256))


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token with what a form sent."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
