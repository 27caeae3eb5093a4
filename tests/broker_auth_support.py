"""Fixtures of the broker security tests: a Mosquitto of its own per test with the dynamic
security file generated from the test's fleet (anonymous access off), and an MQTT 5 client that
records the broker's answers. Loaded as a plugin by tests/conftest.py."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.registry import Registry, load_registry
from core.standards import load_standards
from devstack.servers import Mosquitto
from mqtt.access import (
    SERVICE_RIGHTS,
    BrokerAuth,
    build_auth,
    load_secrets,
    new_service_passwords,
    write_auth,
)
from simulators.fleet import Fleet
from tests.conftest import ROOT, wait_until

STANDARDS = load_standards(ROOT / "config" / "limits.toml")


@dataclass
class AuthSetup:
    registry: Registry
    auth: BrokerAuth
    dynsec: Path
    services: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def auth_setup(tmp_path: Path, fleet: Fleet) -> AuthSetup:
    registry = load_registry(tmp_path / "registry.toml", STANDARDS)
    devices, _ = load_secrets(tmp_path / "secrets.toml")
    services = new_service_passwords(["ingest", "alerts"])
    auth = build_auth(registry, devices, services)
    return AuthSetup(registry, auth, write_auth(auth, tmp_path / "auth"), services)


@pytest.fixture
def auth_broker(tmp_path: Path, auth_setup: AuthSetup) -> Iterator[Mosquitto]:
    """A broker of its own: anonymous access off, the generated password file and ACL."""
    server = Mosquitto("mosquitto", tmp_path / "mosquitto", dynsec_file=auth_setup.dynsec).start()
    yield server
    server.stop()


class Client:
    """An MQTT 5 client that records the broker's answers to its connect and publishes.

    Mosquitto 2.0 answers a refused publish with PUBACK "Not authorized" and then closes the
    connection, so a test uses a fresh client after each refusal.
    """

    def __init__(self, port: int, username: str | None, password: str | None,
                 client_id: str | None = None) -> None:
        self.connack: ReasonCode | None = None
        self.suback: list[str] = []
        self.connected = threading.Event()
        self.dropped = threading.Event()
        self.answered = threading.Event()
        self.pubacks: dict[int, str] = {}
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        if client_id is None:  # a device's client id must be its MN (mqtt.access)
            device = username is not None and username not in SERVICE_RIGHTS
            client_id = username if device else f"t-{uuid.uuid4().hex[:8]}"
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username is not None:
            c.username_pw_set(username, password)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *_: self.dropped.set()
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.client = c
        c.connect_async("127.0.0.1", port)
        c.loop_start()
        wait_until(self.connected.is_set, 10, what="CONNACK")

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode,
                    _p: Properties | None) -> None:
        self.connack = reason
        self.connected.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode],
                      _p: Properties | None) -> None:
        self.suback = [str(r) for r in reasons]
        self.answered.set()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode,
                    _p: Properties | None) -> None:
        with self._lock:
            self.pubacks[mid] = str(reason)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def subscribe(self, *topics: str) -> list[str]:
        """Subscribe at QoS 1; the broker's SUBACK reasons, one per topic."""
        self.answered.clear()
        self.client.subscribe([(t, 1) for t in topics])
        wait_until(self.answered.is_set, 10, what="SUBACK")
        return self.suback

    def publish(self, topic: str, payload: bytes = b"{}") -> str:
        """Publish at QoS 1 and return the broker's PUBACK reason."""
        mid = self.client.publish(topic, payload, qos=1).mid
        return str(wait_until(lambda: self.pubacks.get(mid), 10, what=f"PUBACK of {topic}"))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def auth_clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for c in made:
        c.close()


def device_of(auth_setup: AuthSetup, enterprise: str, outlet: str) -> str:
    return auth_setup.registry.enterprises[enterprise].outlets[outlet].devices[0].mn
