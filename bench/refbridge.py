"""The reference bridge of ``bench.ingest``: the least a correct MQTT -> InfluxDB bridge does.

A paho MQTT 3.1.1 persistent session (clean session off) with manual acknowledgements; each
message's JSON (orjson) becomes one line per value from a template cached per series (topic and
key); lines go out in batches of ``max_points`` or every ``max_wait_s`` as one ``/write`` over a
kept-alive ``http.client`` connection, and only once InfluxDB answered 204 are the batch's
messages acknowledged (PUBACK after the write). No validation, no rejection records, no metrics:
it is the yardstick the ingester, which does all of that, is measured against.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlencode, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class ReferenceBridge:
    """paho subscriber -> batched /write -> manual ack; see the module doc."""

    def __init__(self, port: int, influx_url: str, database: str, client_id: str,
                 topic: str, retention_policy: str, max_points: int = 5000,
                 max_wait_s: float = 0.2) -> None:
        self._port = port
        url = urlsplit(influx_url)
        self._host, self._http_port = url.hostname or "127.0.0.1", url.port or 8086
        self._path = "/write?" + urlencode({"db": database, "precision": "ns",
                                              "rp": retention_policy})
        self._max_points, self._max_wait_s = max_points, max_wait_s
        # topic -> (its series' common head, key -> line head)
        self._templates: dict[str, tuple[str, dict[str, str]]] = {}
        self._lines: list[str] = []
        self._mids: list[int] = []
        self._cond = threading.Condition()
        self._stop = False
        self.acked = 0
        self.error: BaseException | None = None
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                        protocol=mqtt.MQTTv311, manual_ack=True)
        c.on_message = self._on_message
        c.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self._c = c
        self._writer = threading.Thread(target=self._drain, name="ref-writer", daemon=True)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = orjson.loads(msg.payload)
        topic = msg.topic
        cached = self._templates.get(topic)
        if cached is None:
            _, ent, out = topic.split("/")
            cached = self._templates[topic] = (f"reading,enterprise={ent},outlet={out},", {})
        base, heads = cached
        tail = f',flag="N" {body["ts"] * 1_000_000}'
        lines = []
        for k, v in body["values"].items():
            head = heads.get(k)
            if head is None:
                head = heads[k] = f"{base}pollutant={k} value="
            lines.append(f"{head}{float(v)!r}{tail}")
        with self._cond:
            self._lines += lines
            self._mids.append(msg.mid)
            if len(self._lines) >= self._max_points:
                self._cond.notify()

    def _take(self) -> tuple[list[str], list[int]]:
        with self._cond:
            deadline = time.monotonic() + self._max_wait_s
            while len(self._lines) < self._max_points and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            lines, mids = self._lines, self._mids
            self._lines, self._mids = [], []
            return lines, mids

    def _drain(self) -> None:
        conn = http.client.HTTPConnection(self._host, self._http_port, timeout=30)
        try:
            while not self._stop:
                lines, mids = self._take()
                if not lines:
                    continue
                conn.request("POST", self._path, "\n".join(lines).encode())
                resp = conn.getresponse()
                _check(resp.status, resp.read())
                for mid in mids:
                    self._c.ack(mid, 1)
                self.acked += len(mids)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            conn.close()

    def start(self) -> None:
        self._c.connect("127.0.0.1", self._port)
        self._c.loop_start()
        self._writer.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._writer.join(10)
        self._c.disconnect()
        self._c.loop_stop()


def _check(status: int, text: bytes) -> None:
    if status != 204:
        raise RuntimeError(f"InfluxDB answered {status}: {text[:200]!r}")


def create_session(port: int, client_id: str, topics: list[str]) -> None:
    """Make the bridge's persistent session, so that the broker queues the backlog for it."""
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=mqtt.MQTTv311)
    c.on_subscribe = lambda *_: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe([(t, 1) for t in topics])
    if not done.wait(10):
        raise RuntimeError("subscription not acknowledged")
    c.disconnect()
    c.loop_stop()
