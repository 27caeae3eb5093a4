"""The HTTP port of every long-running process: Prometheus metrics and ``/ready``.

``/ready`` answers 200 ("ready") while the process can do its work, else 503 with the reason
(each process says what ready means: the ingester holds every topic of its session, the gateway
is connected and listening, the forwarder's destinations are not too far behind, the notifier
and the reports job have finished a pass recently); every other path serves the metrics, as
``prometheus_client.start_http_server`` did. Tests, ``devstack`` and the container health checks
(``python -m ops.healthcheck``) wait on it rather than on log lines. One copy, used by ingest,
the gateway, forward, alerts.notify and the reports job (``python -m api reports run``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Readiness = Callable[[], str | None]  # None when ready, else why not
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (a health check every few seconds)."""


def health_app(ready: Readiness) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/ready":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        reason = ready()
        status = "200 OK" if reason is None else "503 Service Unavailable"
        body = ("ready" if reason is None else f"not ready: {reason}").encode() + b"\n"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve_health(port: int, addr: str, ready: Readiness) -> ThreadingWSGIServer:
    """Serve metrics and ``/ready`` on ``addr:port`` from a daemon thread."""

    class Server(ThreadingWSGIServer):
        address_family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM,
                                            flags=socket.AI_PASSIVE)[0][0]

    httpd = make_server(addr, port, health_app(ready), Server, handler_class=_Quiet)
    threading.Thread(target=httpd.serve_forever, name="health", daemon=True).start()
    return httpd


@dataclass
class Passes:
    """Readiness of a process that works in passes (the notifier, the reports job).

    Ready once a pass has finished without error and the newest one so finished ended at most
    ``max_age_s`` ago; a failed pass makes it not ready (with the failure) until one succeeds.
    ``clock`` is the process's clock (seconds), injected so tests need not wait."""

    max_age_s: float
    clock: Callable[[], float]
    _ok_at: float | None = None
    _failure: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def succeeded(self) -> None:
        with self._lock:
            self._ok_at, self._failure = self.clock(), None

    def failed(self, why: str) -> None:
        with self._lock:
            self._failure = why

    def __call__(self) -> str | None:
        """None when ready, else why not (a ``Readiness``)."""
        with self._lock:
            ok_at, failure = self._ok_at, self._failure
        if failure is not None:
            return f"last pass failed: {failure}"
        if ok_at is None:
            return "no pass finished yet"
        age = self.clock() - ok_at
        if age > self.max_age_s:
            return f"last pass finished {age:.0f} s ago (more than {self.max_age_s:.0f} s)"
        return None
