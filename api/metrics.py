"""Prometheus metrics of the API: requests by route and status, and their latency."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("api_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("api_request_seconds", "Time to answer a request", ["route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5))
DENIED = Counter("api_denied", "Requests denied for want of a key or a right", ["status"])


def route_of(scope: Scope) -> str:
    """The request path with its path parameters as ``{name}`` (a bounded label), or
    "unmatched" when no route matched."""
    if scope.get("route") is None:
        return "unmatched"
    params: dict[str, Any] = scope.get("path_params") or {}
    names = {str(v): k for k, v in params.items()}
    parts = str(scope.get("path", "")).split("/")
    return "/".join(f"{{{names[p]}}}" if p in names else p for p in parts)


class MetricsMiddleware:
    """Counts and times every HTTP request (a plain ASGI middleware: streams pass through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_of(scope)
            REQUESTS.labels(scope.get("method", ""), route, str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
