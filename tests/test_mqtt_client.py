"""``mqtt.client.MqttClient`` against a real Mosquitto: a clean session subscribes again after
the broker restarted, an outage is logged once when it starts and once when it ends, a callback
that raises is counted and the loop goes on."""

from __future__ import annotations

import logging
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from devstack.servers import Mosquitto
from mqtt.client import MqttClient
from tests.conftest import Publisher, wait_until


def test_a_clean_session_subscribes_again_and_logs_the_outage_once(
        broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    got: list[bytes] = []
    ups: list[bool] = []
    topic = f"t/{uuid.uuid4().hex[:8]}"
    client = MqttClient("test client", host="127.0.0.1", port=broker.port,
                        client_id=f"mc-{uuid.uuid4().hex[:8]}", subscriptions=[(topic, 1)],
                        max_reconnect_delay_s=2,
                        on_message=lambda m: got.append(bytes(m.payload)),
                        on_connection=ups.append)
    caplog.set_level(logging.INFO, logger="mqtt.client")
    client.start()
    try:
        wait_until(client.subscribed.is_set, 10, what="the first subscription")
        broker.stop()
        wait_until(lambda: ups.count(False) >= 3, 20, what="two failed reconnections")
        assert not client.subscribed.is_set()
        broker.start()  # an empty broker: no stored session, the subscription is made again
        wait_until(client.subscribed.is_set, 20, what="the subscription after the restart")
        pub = Publisher(broker.port)
        pub.publish_all([(topic, b"after")])
        pub.close()
        wait_until(lambda: got == [b"after"], 10, what="a message on the new subscription")
    finally:
        client.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("lost the broker" in m for m in lines) == 1
    assert sum("cannot reach the broker" in m for m in lines) == 0  # the outage is logged once
    assert sum("is back" in m for m in lines) == 1
    assert sum("subscribed to 1 topics" in m for m in lines) == 2
    assert ups[0] is True
    assert ups[-2:] == [True, False]  # connected again, then stopped


def test_a_raising_callback_is_counted_and_the_client_goes_on(broker: Mosquitto) -> None:
    seen: list[bytes] = []
    done = threading.Event()

    def on_message(msg: mqtt.MQTTMessage) -> None:
        if msg.payload == b"boom":
            raise ValueError("a bug")
        seen.append(bytes(msg.payload))
        done.set()

    errors: list[BaseException] = []
    client = MqttClient("test client", host="127.0.0.1", port=broker.port, client_id="mc-raise",
                        subscriptions=[("r/#", 1)], on_message=on_message,
                        on_error=errors.append)
    client.start()
    try:
        wait_until(client.subscribed.is_set, 10, what="the subscription")
        pub = Publisher(broker.port)
        pub.publish_all([("r/1", b"boom"), ("r/1", b"ok")])
        pub.close()
        assert done.wait(10)
        assert seen == [b"ok"]
        assert [type(e) for e in errors] == [ValueError]
        assert client.guard.errors == 1
        assert client.problem() is None
    finally:
        client.stop()
