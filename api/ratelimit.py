"""Rate limits per client address on the public routes (issue 14): a token bucket per address
of ``api_public_rate_burst`` requests refilled at ``api_public_rate_per_min``; an empty bucket
answers 429 with ``Retry-After`` (whole seconds until one request is allowed again).

In-process, per replica: behind N replicas a client gets at most N times the rate. The client
address is the socket's peer (uvicorn puts X-Forwarded-For there only for trusted proxies).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PREFIXES = ("/api/v1/public", "/public")
MAX_CLIENTS = 100_000  # buckets kept; beyond it the full ones are forgotten


class Buckets:
    def __init__(self, per_min: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_min / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go; otherwise the seconds until it may."""
        now = self._clock()
        with self._lock:
            tokens, at = self._state.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._state[client] = (tokens - 1.0, now)
                return 0.0
            self._state[client] = (tokens, now)
            if len(self._state) > MAX_CLIENTS:
                self._state = {c: v for c, v in self._state.items() if v[0] < self.burst - 1}
            return (1.0 - tokens) / self.rate


def is_public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES)


class RateLimitMiddleware:
    """429 with Retry-After on a public route once the client's bucket is empty."""

    def __init__(self, app: ASGIApp, buckets: Buckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_public(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        client = request.client.host if request.client else "-"
        wait = self.buckets.take(client)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            response: Response = JSONResponse(
                {"detail": f"too many requests; retry after {retry} s"}, status_code=429,
                headers={"Retry-After": str(retry)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
