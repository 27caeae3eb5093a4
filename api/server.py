"""Serve an app with uvicorn from a thread of this process (tests, benchmarks, embedding)."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI


class ThreadedServer:
    """uvicorn on a loopback port in a daemon thread; ``start()`` waits until it listens."""

    def __init__(self, app: FastAPI, port: int, host: str = "127.0.0.1") -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self, timeout_s: float = 10.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)
