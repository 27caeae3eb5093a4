"""Web sessions end when they should (issue 11, finding 5): the server's maximum age caps every
cookie, and logging out revokes the session on every replica (real InfluxDB, real HTTP)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from api.web.revocation import RecordRevocations
from api.web.session import COOKIE, SessionCodec
from store.influx import InfluxStore
from store.sql import Records
from tests.api_support import running_api
from tests.conftest import wait_until
from tests.web_support import SECRET, TZ, Web, login_token

NOW = 1_764_151_260
KEY_ID, KEY_HASH = "0123456789ab", "f" * 64


def signed(secret: str, data: dict[str, object]) -> str:
    """A cookie with any content, signed as the server signs one (a holder of the secret)."""
    payload = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), b"session|" + payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_the_servers_maximum_age_caps_a_cookie_signed_with_a_longer_one() -> None:
    long_lived = SessionCodec(SECRET, 30 * 86400)  # e.g. signed under an earlier setting
    _, cookie = long_lived.issue(KEY_ID, KEY_HASH, NOW)
    assert long_lived.read(cookie, NOW + 10) is not None
    assert SessionCodec(SECRET, 3600).read(cookie, NOW + 10) is None


@pytest.mark.parametrize("change", [
    {"e": NOW + 3601},  # lifetime beyond the maximum age
    {"t": NOW + 10_000, "e": NOW + 10_000 + 3600},  # opened in the future
    {"t": None},  # no opening time
    {"i": None},  # no session id
    {"t": str(NOW)},
])
def test_a_signed_cookie_with_bad_times_or_no_id_is_refused(change: dict[str, object]) -> None:
    codec = SessionCodec(SECRET, 3600)
    good = {"k": KEY_ID, "b": codec.binding(KEY_HASH), "c": "csrf", "i": "A" * 22,
            "t": NOW, "e": NOW + 3600}
    assert codec.read(signed(SECRET, good), NOW + 10) is not None
    bad = {k: v for k, v in {**good, **change}.items() if v is not None}
    assert codec.read(signed(SECRET, bad), NOW + 10) is None


def test_revocations_are_shared_through_the_store(records: Records) -> None:
    now = [0.0]
    replica_a = RecordRevocations(records, cache_s=5, clock=lambda: now[0])
    replica_b = RecordRevocations(records, cache_s=5, clock=lambda: now[0])
    sid, other = "S" * 22, "T" * 22
    assert not replica_b.is_revoked(sid)  # B now trusts "not revoked" for 5 s
    replica_a.revoke(sid, NOW + 3600)
    assert replica_a.is_revoked(sid)
    assert not replica_b.is_revoked(sid)
    now[0] = 5.0
    assert replica_b.is_revoked(sid)
    assert not replica_b.is_revoked(other)
    assert RecordRevocations(records, cache_s=0).is_revoked(sid)  # a new replica, no cache
    assert not replica_a.restore(sid, 0, 0)  # recorded once; the first revocation stays
    assert replica_a.is_revoked("not-an-id")
    with pytest.raises(ValueError, match="session id"):
        replica_a.revoke("x'; DROP", 0)


@pytest.fixture
def replica(web: Web, store: InfluxStore, tmp_path: Path) -> Iterator[str]:
    """A second API over the same databases and secret (another replica behind a balancer)."""
    with running_api(store, tmp_path / "replica", web.now_s, web.api.records,
                     api_session_secret=SECRET, timezone=TZ) as b:
        yield str(b.client.base_url).rstrip("/")


def test_logout_revokes_the_session_on_every_replica(web: Web, replica: str) -> None:
    with web.login("inspector") as c:
        stolen = c.cookies[COOKIE]
        for url in (web.url, replica):  # any replica accepts the session
            with httpx.Client(base_url=url, cookies={COOKIE: stolen}, timeout=30) as other:
                assert other.get("/web/alerts").status_code == 200
        r = c.post("/web/logout", data={"csrf": login_token(c.get("/web/alerts").text)})
        assert r.status_code == 303
    # the copy taken before the logout no longer opens a page: at once on the replica that
    # served the logout, within the cache time (0.2 s here) on the other, which had seen it
    with httpx.Client(base_url=web.url, cookies={COOKIE: stolen}, timeout=30) as same:
        page = same.get("/web/alerts")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/web/login")
    with httpx.Client(base_url=replica, cookies={COOKIE: stolen}, timeout=30) as other:
        wait_until(lambda: other.get("/web/alerts").status_code == 303, 5,
                   what="the other replica to refuse the revoked session")
