"""Who may reach what: the denial every route and page gives, and an enterprise in reach.

Denials are logged without any secret and counted; an enterprise out of reach answers 404 like
one that does not exist, so a key learns nothing of others' enterprises.
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from api import metrics
from api.access import Principal
from api.services.audit import note_denied
from core.registry import Enterprise, Registry

log = logging.getLogger("api.access")


def denied(request: Request, status: int, reason: str, who: str = "-") -> HTTPException:
    """Log a denied request (without any secret) and make its error response."""
    log.warning("denied %s %s %r: %s (key %s)", status, request.method, request.url.path,
                reason, who)
    metrics.DENIED.labels(str(status)).inc()
    note_denied(status, reason, None if who in ("-", "malformed") else who)
    if status == 401:
        return HTTPException(401, "missing or invalid API key",
                             headers={"WWW-Authenticate": "Bearer"})
    if status == 403:
        return HTTPException(403, "this key's role may not do this")
    return HTTPException(404, "not found")


def reach_enterprise(request: Request, user: Principal, registry: Registry,
                     enterprise_id: str) -> Enterprise:
    """The enterprise if it exists and the caller may see it; 404 alike otherwise."""
    ent = registry.enterprises.get(enterprise_id)
    if ent is None:
        raise HTTPException(404, "not found")
    if not user.can_see(ent):
        raise denied(request, 404, f"enterprise {enterprise_id!r} out of reach", user.key_id)
    return ent
