"""The one way the service's processes make an MQTT client (paho-mqtt 2, MQTT 5), and the
guard that keeps a failing callback from ending paho's network thread.

paho re-raises an exception from a callback into its network loop, which ends the loop's thread
while the process lives on: no more messages, no reconnection, and nothing says so. So every
process wraps its callbacks (``CallbackGuard.install``): an exception is counted and logged (the
first one with its traceback, later ones briefly) and the loop goes on. What the guard cannot
catch (a callback that never returns, a thread ended some other way) ``CallbackGuard.problem``
reports (start the loop with ``CallbackGuard.loop_start`` for that), and the process's main
loop exits on it so that its supervisor restarts it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

CALLBACKS = ("on_connect", "on_connect_fail", "on_disconnect", "on_message", "on_subscribe",
             "on_unsubscribe", "on_publish")


def new_client(client_id: str, *, username: str | None = None, password: str | None = None,
               manual_ack: bool = False, max_reconnect_delay_s: int = 10) -> mqtt.Client:
    """An MQTT 5 client with the version-2 callbacks, its login and reconnect back-off set."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if username:
        client.username_pw_set(username, password)
    client.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay_s)
    return client


class CallbackGuard:
    """Runs a client's callbacks so that none can end its network loop; see the module doc.

    ``on_error`` is called (inside the guard) with each exception caught, e.g. to count it.
    """

    def __init__(self, name: str, on_error: Callable[[BaseException], None] | None = None,
                 stuck_after_s: float = 60.0) -> None:
        self.name = name
        self.errors = 0
        self.stuck_after_s = stuck_after_s
        self._on_error = on_error
        self._busy_since: float | None = None  # monotonic start of the running callback
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            self._busy_since = time.monotonic()
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001  (the point: nothing reaches paho)
                self._caught(fn, exc)
            finally:
                self._busy_since = None
        return guarded

    def install(self, client: mqtt.Client) -> mqtt.Client:
        """Wrap every callback set on ``client`` so far; call it once they are all set."""
        for name in CALLBACKS:
            fn = getattr(client, name)
            if fn is not None:
                setattr(client, name, self.wrap(fn))
        self._client = client
        return client

    def loop_start(self) -> None:
        """Start the client's network thread (paho's ``loop_start``) and watch it."""
        assert self._client is not None, "install the guard first"
        self._client.loop_start()
        # paho forgets its thread once it has ended, however it ended: keep it here
        self._thread = self._client._thread

    def loop_stop(self) -> None:
        """Stop the network thread on purpose (after ``disconnect``)."""
        self._stopping = True
        if self._client is not None:
            self._client.loop_stop()

    def _caught(self, fn: Callable[..., Any], exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            first = self.errors == 1
        where = getattr(fn, "__name__", "callback")
        if first:
            log.error("%s: %s raised; the network loop goes on (further errors are counted, "
                      "logged briefly)", self.name, where, exc_info=exc)
        else:
            log.warning("%s: %s raised %s (%d so far)", self.name, where, type(exc).__name__,
                        self.errors)
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:  # noqa: BLE001
                log.exception("%s: error handler failed", self.name)

    def problem(self, now: float | None = None) -> str | None:
        """Why the client can no longer work (its network thread ended or a callback is stuck);
        None while it is fine or before the loop was started."""
        now = time.monotonic() if now is None else now
        busy = self._busy_since
        if busy is not None and now - busy > self.stuck_after_s:
            return f"{self.name}: an MQTT callback has been running for {now - busy:.0f} s"
        thread = self._thread
        if thread is not None and not thread.is_alive() and not self._stopping:
            return f"{self.name}: the MQTT network thread has ended"
        return None
