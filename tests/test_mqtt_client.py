"""``mqtt.client.MqttClient`` against a real Mosquitto: a clean session subscribes again after
the broker restarted, an outage is logged once when it starts and once when it ends, a callback
that raises is counted and the loop goes on, received messages are the same whichever way they
were decoded, a message in flight when its node dies is sent to the next node."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devstack.servers import Mosquitto
from mqtt.client import NO_PROPERTIES, MqttClient
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


def test_received_messages_are_the_same_on_the_fast_and_paho_paths(broker: Mosquitto) -> None:
    """QoS 1 without properties takes ``_Client``'s own decoding, everything else paho's: both
    hand on the same topic, payload, QoS, DUP and retain flags, and properties when sent; the
    PUBACKs of ``ack_many`` reach the broker (nothing is redelivered to the session)."""
    got: list[mqtt.MQTTMessage] = []
    topic = f"f/{uuid.uuid4().hex[:8]}"
    cid = f"mc-{uuid.uuid4().hex[:8]}"

    def session() -> MqttClient:
        return MqttClient("test client", host="127.0.0.1", port=broker.port, client_id=cid,
                          subscriptions=[(f"{topic}/#", 1)], session_expiry_s=60,
                          manual_ack=True, on_message=got.append)

    client = session()
    client.start()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("k", "v")
    try:
        wait_until(client.subscribed.is_set, 10, what="the subscription")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish(f"{topic}/a", b"plain", qos=1).wait_for_publish(10)
        pub.publish(f"{topic}/b", b"with properties", qos=1, properties=props).wait_for_publish(10)
        pub.publish(f"{topic}/c", b"qos 0", qos=0).wait_for_publish(10)
        pub.publish(f"{topic}/\u00e9", b"", qos=1).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        wait_until(lambda: len(got) == 4, 10, what="four messages")
        by_topic = {m.topic: m for m in got}
        plain, with_props = by_topic[f"{topic}/a"], by_topic[f"{topic}/b"]
        assert (plain.payload, plain.qos, plain.retain, plain.dup) == (b"plain", 1, False, False)
        assert plain.properties is NO_PROPERTIES  # the fast path took it
        assert with_props.payload == b"with properties"
        assert with_props.properties is not NO_PROPERTIES
        assert with_props.properties is not None
        assert with_props.properties.UserProperty == [("k", "v")]
        assert by_topic[f"{topic}/c"].qos == 0
        assert by_topic[f"{topic}/\u00e9"].payload == b""
        assert len({m.mid for m in got if m.qos}) == 3
        client.ack_many([m.mid for m in got if m.qos])
        # the broker answers in order: once this is acknowledged, it has read the PUBACKs
        probe_info = client.publish("elsewhere", b"x")
        probe_info.wait_for_publish(10)
        assert probe_info.is_published()
    finally:
        client.stop()
    got.clear()
    again = session()  # the same session: anything left unacknowledged would come again
    again.start()
    try:
        wait_until(again.subscribed.is_set, 10, what="the resumed subscription")
        probe = Publisher(broker.port)
        probe.publish_all([(f"{topic}/z", b"last")])
        probe.close()
        wait_until(lambda: any(m.payload == b"last" for m in got), 10, what="the probe")
        assert [(m.topic, m.payload, m.dup) for m in got] == [(f"{topic}/z", b"last", False)]
    finally:
        again.stop()


def test_a_message_in_flight_when_its_node_dies_is_acknowledged_by_the_next(
        broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """MQTT 3.1.1 to the first of two nodes; that node hangs (SIGSTOP) with a QoS 1 message
    unacknowledged, then dies (SIGKILL): the client moves to the second node, sends the message
    there again, and the second node acknowledges it and delivers it."""
    other = Mosquitto("mosquitto-b", tmp_path / "b").start()
    got: list[bytes] = []
    topic = f"n/{uuid.uuid4().hex[:8]}"
    watcher = MqttClient("watcher", host="127.0.0.1", port=other.port,
                         client_id=f"mc-{uuid.uuid4().hex[:8]}", subscriptions=[(topic, 1)],
                         on_message=lambda m: got.append(bytes(m.payload)))
    client = MqttClient("test client", host="127.0.0.1", port=broker.port,
                        client_id=f"mc-{uuid.uuid4().hex[:8]}", version="3.1.1",
                        nodes=[("127.0.0.1", broker.port), ("127.0.0.1", other.port)])
    caplog.set_level(logging.INFO, logger="mqtt.client")
    watcher.start()
    client.start()
    try:
        wait_until(client.connected.is_set, 10, what="the connection to the first node")
        wait_until(watcher.subscribed.is_set, 10, what="the watcher's subscription")
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGSTOP)
        info = client.publish(topic, b"in flight", qos=1)
        info.wait_for_publish(0.5)
        assert not info.is_published()  # a hung node acknowledges nothing
        broker.proc.send_signal(signal.SIGKILL)
        broker.proc.wait(10)
        info.wait_for_publish(15)
        assert info.is_published()
        wait_until(lambda: got == [b"in flight"], 10, what="the message on the second node")
    finally:
        client.stop()
        watcher.stop()
        other.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert f"test client: trying the broker node at 127.0.0.1:{other.port}" in lines
