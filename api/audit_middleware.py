"""Every request for non-public data or a change goes into the audit trail (api.services.audit).

Audited: every request except reads (GET, HEAD) of the public paths (health, metrics, the
pollutant catalogue and standards, the API's documentation, the login page, static files).
Denied attempts (401, 403, 404 out of reach) are recorded like the others, with the public id
of the key when the request carried a well-formed one. A request with no room left in the
audit queue is refused with 503 before it runs.

Rows out: what the route noted (``note_rows``), else counted from the JSON answer (the length
of ``items``, or of a list; 1 for one object), by ``CountedJSONResponse``, the application's
default response class.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import route_of
from api.services.audit import AuditTrail, Note, current
from store.audit import AuditEvent

PUBLIC = ("/api/v1/health", "/api/v1/metrics", "/api/v1/pollutants", "/api/v1/standards",
          "/api/v1/openapi.json", "/openapi.json", "/docs", "/redoc", "/web/static",
          "/web/login", "/api/v1/public", "/public",  # the public tier (api.tiers)
          "/favicon.ico")
READS = ("GET", "HEAD")
REFUSAL = json.dumps({"detail": "the audit trail is unavailable; retry later"}).encode()


def audited(method: str, path: str) -> bool:
    if method not in READS:
        return True
    return not any(path == p or path.startswith(p + "/") or path.startswith(p + "?")
                   for p in PUBLIC)


def counted(content: Any) -> tuple[int | None, str | None]:
    """(rows, the one enterprise the answer is about, if one) of a JSON answer."""
    if isinstance(content, list):
        return len(content), None
    if not isinstance(content, dict):
        return None, None
    items = content.get("items")
    enterprise = content.get("enterprise")
    if isinstance(items, list):
        if not isinstance(enterprise, str):
            found = {i.get("enterprise") for i in items if isinstance(i, dict)}
            enterprise = found.pop() if len(found) == 1 else None
        return len(items), enterprise if isinstance(enterprise, str) else None
    if "detail" in content and len(content) <= 2:
        return 0, None
    return 1, enterprise if isinstance(enterprise, str) else None


class CountedJSONResponse(JSONResponse):
    """A JSON response that notes how many rows it carries for the audit trail."""

    def render(self, content: Any) -> bytes:
        note = current.get()
        if note is not None and note.rows is None:
            rows, enterprise = counted(content)
            note.rows = rows
            if note.enterprise is None:
                note.enterprise = enterprise
        return super().render(content)


class AuditMiddleware:
    """Admits, notes and records each audited request (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp, trail: AuditTrail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        if not self.trail.admit():
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", b"5")]})
            await send({"type": "http.response.body", "body": REFUSAL})
            return
        note = Note()
        token = current.set(note)
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            current.reset(token)
            self.trail.put(self.event(scope, note, status))

    def event(self, scope: Scope, note: Note, status: int) -> AuditEvent:
        params: dict[str, Any] = scope.get("path_params") or {}
        enterprise = params.get("enterprise_id") or note.enterprise
        client = scope.get("client")
        method = str(scope["method"])
        return AuditEvent(
            at_ms=self.trail.now_ms(), action="read" if method in READS else "change",
            key_id=note.key_id, role=note.role, scope=note.scope,
            client=str(client[0]) if client else None, method=method,
            route=route_of(scope), path=str(scope["path"]),
            query=scope.get("query_string", b"").decode("latin-1") or None,
            enterprise=str(enterprise) if enterprise else None,
            rows=note.rows if note.rows is not None or status < 400 else 0, status=status,
            detail=note.detail)
