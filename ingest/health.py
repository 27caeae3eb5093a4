"""The HTTP port of the ingester and the gateway: Prometheus metrics and ``/ready``.

``/ready`` answers 200 ("ready") while the process can do its work (the ingester: every topic
of its session granted; the gateway: connected to the broker and listening), else 503 with the
reason; every other path serves the metrics, as ``prometheus_client.start_http_server`` did.
Tests, ``devstack`` and the container health checks (``python -m ops.healthcheck``) wait on it
rather than on log lines.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Readiness = Callable[[], str | None]  # None when ready, else why not
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base's name)
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
