"""Security headers: on every answer of the app, and a strict Content-Security-Policy on the
web pages (no inline script or style: the pages load only their own static files)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_PREFIX = "/web"
PAGE_PREFIXES = (WEB_PREFIX, "/public")  # the public pages (api/web/public.py) too

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


def tile_origin(url: str) -> str:
    """The origin (scheme://host[:port]) of a map tile URL template; empty if none."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and \
        parts.netloc else ""


def headers_for(path: str, img_origin: str = "") -> dict[str, str]:
    """The headers added to an answer for ``path`` (pages are never cached, static files are).
    ``img_origin``: the public map's tile server, whose images the pages may load."""
    if not any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES):
        return dict(EVERYWHERE)
    cache = "no-cache" if path.startswith(f"{WEB_PREFIX}/static/") else "no-store"
    if path.endswith(".geojson"):
        cache = "public, max-age=3600"
    on_pages = dict(ON_PAGES)
    if img_origin:
        on_pages["Content-Security-Policy"] = CSP.replace("img-src 'self' data:",
                                                          f"img-src 'self' data: {img_origin}")
    return {**EVERYWHERE, **on_pages, "Cache-Control": cache}


class SecurityHeadersMiddleware:
    """Adds ``headers_for(path)`` to every HTTP answer (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp, tile_url: str = "") -> None:
        self.app = app
        self.img_origin = tile_origin(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(str(scope.get("path", "")), self.img_origin)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_wrapper)
