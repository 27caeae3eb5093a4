"""The forwarder's HTTP port: Prometheus metrics, and ``/ready`` (200, or 503 with the reason).

The same contract as the ingester's and the gateway's port (``ingest/health.py``), so
``python -m ops.healthcheck`` and the tests wait on it the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Readiness = Callable[[], str | None]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged."""


def serve_health(port: int, addr: str, ready: Readiness) -> ThreadingWSGIServer:
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

    httpd = make_server(addr, port, app, ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=httpd.serve_forever, name="health", daemon=True).start()
    return httpd
