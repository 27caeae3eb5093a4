"""What Mosquitto's persistence keeps across a restart: a probe on loopback (README, Delivery).

``python -m bench.broker_probe`` runs each case on a fresh broker with the shared settings
(``config/mosquitto/broker.conf``) and prints one line per case:

- a subscriber with a persistent session (MQTT 5, clean start off, session expiry) on a plain
  filter and one on a shared filter (``$share/g/...``) go offline; a backlog is published; the
  broker is restarted cleanly (SIGTERM) or killed (SIGKILL); more messages are published before
  the subscribers come back; each subscriber then reconnects, re-subscribes as the ingester does,
  and counts what it receives;
- the cost of the snapshot: publish rate and snapshot size with a given ``autosave_interval``.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devstack.servers import Mosquitto

PAYLOAD = b'{"ts": 1700000000000, "device": "88888880000001", "values": {"so2": 23.1}}' * 2


def _props() -> Properties:
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    p.ReceiveMaximum = 1000
    return p


class Counter:
    """A persistent-session subscriber that counts distinct payload numbers it receives."""

    def __init__(self, port: int, client_id: str, topic: str) -> None:
        self.seen: set[int] = set()
        self._topic = topic
        self._subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, *_: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda *_: self._subscribed.set()
        c.on_message = self._on_message
        c.connect("127.0.0.1", port, clean_start=False, properties=_props())
        c.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("no SUBACK")
        self.client = c

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.seen.add(int(msg.payload.split(b"#", 1)[0]))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, first: int, n: int) -> float:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-pub-{first}",
                    protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(500)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    infos = [c.publish("emissions/E1/G1", b"%d#" % i + PAYLOAD, qos=1)
             for i in range(first, first + n)]
    for info in infos:
        info.wait_for_publish(60)
    took = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return took


def restart_case(tmp: Path, how: str, backlog: int, after: int, extra: str) -> str:
    broker = Mosquitto("mosquitto", tmp / f"{how}-{backlog}", extra_conf=extra).start()
    port = broker.port
    plain = Counter(port, "plain", "emissions/#")
    shared = Counter(port, "shared", "$share/g/emissions/#")
    plain.close()
    shared.close()
    publish(port, 0, backlog)
    time.sleep(0.5)
    assert broker.proc is not None
    if how == "clean":
        broker.stop()
    else:
        os.kill(broker.proc.pid, signal.SIGKILL)
        broker.proc.wait(10)
    broker.start()
    publish(port, backlog, after)
    counts = []
    for sub in (Counter(port, "plain", "emissions/#"),
                Counter(port, "shared", "$share/g/emissions/#")):
        deadline = time.monotonic() + 20
        last, still = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = len(sub.seen)
            if n != last:
                last, still = n, time.monotonic()
            elif time.monotonic() - still > 1.5:
                break
            time.sleep(0.1)
        counts.append(len(sub.seen))
        sub.close()
    broker.stop()
    total = backlog + after
    return (f"{how:5} restart, backlog {backlog:6}, {after:4} published before re-subscribe "
            f"[{extra.strip() or 'autosave_interval 30'}]: plain session received "
            f"{counts[0]}/{total} (lost {total - counts[0]}), shared received "
            f"{counts[1]}/{total} (lost {total - counts[1]})")


def autosave_cost(tmp: Path, extra: str, n: int) -> str:
    broker = Mosquitto("mosquitto", tmp / f"cost-{abs(hash(extra))}", extra_conf=extra).start()
    plain = Counter(broker.port, "plain", "emissions/#")
    plain.close()
    took = publish(broker.port, 0, n)
    time.sleep(1.2)
    db = tmp / f"cost-{abs(hash(extra))}" / "data" / "mosquitto.db"
    size = db.stat().st_size if db.exists() else 0
    broker.stop()
    return (f"autosave [{extra.strip() or 'autosave_interval 30'}]: {n} messages queued at "
            f"{n / took:,.0f} msg/s; snapshot {size / 1e6:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backlog", type=int, default=20_000)
    ap.add_argument("--after", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="broker-probe-"))
    for how in ("clean", "kill"):
        for backlog in (0, args.backlog):
            print(restart_case(tmp, how, backlog, args.after, ""), flush=True)
    print(restart_case(tmp, "kill", args.backlog, args.after, "autosave_interval 1\n"),
          flush=True)
    for extra in ("", "autosave_interval 1\n", "autosave_on_changes true\nautosave_interval 100\n",
                  "autosave_on_changes true\nautosave_interval 1000\n"):
        print(autosave_cost(tmp, extra, args.backlog * 2), flush=True)


if __name__ == "__main__":
    main()
