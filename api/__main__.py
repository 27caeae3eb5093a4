"""python -m api: serve the HTTP API; python -m api keys ...: manage API keys;
python -m api audit verify|prune: the access audit trail."""

from __future__ import annotations

import gc
import logging
import sys
import time

import uvicorn

from api import reportjob
from api.cli import run, run_audit
from api.main import create_app
from api.settings import ApiSettings
from core.logs import setup_logging

log = logging.getLogger("api")


def main() -> None:
    settings = ApiSettings()
    setup_logging(settings.log_level)
    if sys.argv[1:2] == ["keys"]:
        sys.exit(run(sys.argv[2:], settings))
    if sys.argv[1:2] == ["audit"]:
        sys.exit(run_audit(sys.argv[2:], settings))
    if sys.argv[1:2] == ["reports"]:
        sys.exit(reportjob.run(sys.argv[2:], settings))
    if sys.argv[1:]:
        sys.exit("usage: python -m api [keys create|list|revoke ... | audit verify|prune | "
                 "reports run|once|issue ...]")
    offset_s = settings.clock_offset_s  # core/clock.py
    app = create_app(settings, clock=lambda: time.time() + offset_s)
    # The registry and the app live as long as the process: keep them out of the garbage
    # collector's full passes, which otherwise pause requests that allocate many objects.
    gc.freeze()
    log.info("serving on http://%s:%s/api/v1 (docs at /docs)", settings.api_host,
             settings.api_port)
    # uvicorn handles SIGINT and SIGTERM: it stops accepting and finishes open requests.
    # httptools (C HTTP parser) and uvloop: about a quarter less CPU per request than h11 on
    # asyncio's loop (bench/public.py: 0.9-1.3 ms against 1.2-1.4 ms on /health/live).
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None,
                access_log=False, http="httptools", loop="uvloop")


if __name__ == "__main__":
    main()
