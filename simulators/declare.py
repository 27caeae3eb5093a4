"""Declaring a scenario's operating-state marks through the API, as each enterprise does.

Each enterprise declares its own marks (``simulators.marks``) with an enterprise key of its
own: ``POST /api/v1/enterprises/{id}/marks`` with ``{outlet, kind, start, end, reason}``
(RFC 3339 times, ``end`` exclusive). An API without that endpoint (a 404 or 405 on the route
itself) is logged once and the marks are skipped, so that a run against an older service still
goes on (its not-operating hours will differ); any other refusal is an error.
"""

from __future__ import annotations

import logging

import httpx

from api.keys import KeyStore, Role
from core.times import format_ms
from simulators.marks import DeclaredMark
from simulators.observe import ApiError

log = logging.getLogger(__name__)


def _route_missing(resp: httpx.Response) -> bool:
    """FastAPI's answer for a path it does not route (not a 404 of an unknown enterprise)."""
    if resp.status_code not in (404, 405):
        return False
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return False
    return detail in ("Not Found", "Method Not Allowed")


def declare(api_url: str, keys: KeyStore, marks: list[DeclaredMark]) -> int:
    """Declare ``marks``, each enterprise with its own new key; the number declared."""
    tokens: dict[str, str] = {}
    done = 0
    with httpx.Client(base_url=api_url, timeout=30.0) as client:
        for m in marks:
            if m.enterprise not in tokens:
                tokens[m.enterprise] = keys.create(Role.ENTERPRISE, enterprise=m.enterprise)[1]
            resp = client.post(f"/api/v1/enterprises/{m.enterprise}/marks",
                               json=m.body(format_ms(m.start_ms), format_ms(m.end_ms)),
                               headers={"Authorization": f"Bearer {tokens[m.enterprise]}"})
            if _route_missing(resp):
                log.warning("the API declares no marks (%s): %d marks not declared",
                            resp.status_code, len(marks) - done)
                return done
            if not resp.is_success:
                raise ApiError(f"declaring {m}: {resp.status_code} {resp.text[:300]}")
            done += 1
    return done
