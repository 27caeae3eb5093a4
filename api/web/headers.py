"""Security headers: on every answer of the app, and a strict Content-Security-Policy on the
web pages (no inline script or style: the pages load only their own static files)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_PREFIX = "/web"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
ON_PAGES = {
    "Content-Security-Policy": CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def headers_for(path: str) -> dict[str, str]:
    """The headers added to an answer for ``path`` (pages are never cached, static files are)."""
    if path != WEB_PREFIX and not path.startswith(WEB_PREFIX + "/"):
        return dict(EVERYWHERE)
    cache = "no-cache" if path.startswith(f"{WEB_PREFIX}/static/") else "no-store"
    return {**EVERYWHERE, **ON_PAGES, "Cache-Control": cache}


class SecurityHeadersMiddleware:
    """Adds ``headers_for(path)`` to every HTTP answer (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(str(scope.get("path", "")))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_wrapper)
