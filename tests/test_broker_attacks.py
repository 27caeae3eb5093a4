"""Devices attacking the ingesters through the broker (issue 11, findings 1 and 2), against a
real Mosquitto with the generated dynamic security file and a real ingester process."""

from __future__ import annotations

import orjson
import pytest

from devstack.servers import Mosquitto
from store.influx import InfluxStore
from tests.conftest import SERVICE_NOW_MS, ServiceProcs, start_ready, wait_until
from tests.test_broker_auth import Client, Setup, _device
from tests.test_broker_auth import broker as broker  # noqa: F401  (fixtures of that module)
from tests.test_broker_auth import clients as clients  # noqa: F401
from tests.test_broker_auth import setup as setup  # noqa: F401

N_READINGS = 400
# Filters a device might use to read or steal others' data; the last one is its own topic.
STOLEN = ["$share/ingest/emissions/#", "$share/ingest/hj212/#", "emissions/#", "hj212/#", "#",
          "$share/other/emissions/#", "emissions/E0002/G1", "$SYS/#", "emissions/E0001/G1"]


def _start_ingester(services: ServiceProcs, setup: Setup) -> None:
    start_ready(services, "ingest", "ingest", EMS_MQTT_USERNAME="ingest",
                   EMS_MQTT_PASSWORD=setup.services["ingest"], EMS_INGEST_CLIENT_ID="ingest-1")


def _send_readings(broker: Mosquitto, setup: Setup, clients: list[Client]) -> None:
    """N_READINGS readings from the device of E0002/G1, each acknowledged by the broker."""
    mn = _device(setup, "E0002", "G1")
    dev = Client(broker.port, mn, setup.auth.passwords[mn])
    clients.append(dev)
    base = SERVICE_NOW_MS - 120 * 60_000  # two hours before: inside the accepted window
    infos = [dev.client.publish("emissions/E0002/G1", orjson.dumps(
        {"ts": base + i * 1000, "device": mn, "values": {"so2": 10.0 + i}}), qos=1)
        for i in range(N_READINGS)]
    for info in infos:
        info.wait_for_publish(20)
    assert all(info.is_published() for info in infos)
    assert all(dev.pubacks.get(info.mid) == "Success" for info in infos)


@pytest.mark.parametrize("topic", STOLEN)
def test_a_device_may_subscribe_to_nothing(broker: Mosquitto, setup: Setup,  # noqa: F811
                                           clients: list[Client], topic: str) -> None:  # noqa: F811
    mn = _device(setup, "E0001", "G1")
    dev = Client(broker.port, mn, setup.auth.passwords[mn])
    clients.append(dev)
    assert str(dev.connack) == "Success"
    assert dev.subscribe(topic) == ["Not authorized"]


def test_a_device_in_the_shared_subscription_steals_nothing(
        broker: Mosquitto, setup: Setup, services: ServiceProcs,  # noqa: F811
        store: InfluxStore, clients: list[Client]) -> None:  # noqa: F811
    _start_ingester(services, setup)
    mn = _device(setup, "E0001", "G1")
    thief = Client(broker.port, mn, setup.auth.passwords[mn])
    clients.append(thief)
    assert thief.subscribe("$share/ingest/emissions/#", "$share/ingest/hj212/#") == [
        "Not authorized", "Not authorized"]
    _send_readings(broker, setup, clients)
    wait_until(lambda: store.count("reading") == N_READINGS, 30, what="every reading stored")
    assert thief.messages == []


def test_a_device_cannot_take_over_the_ingesters_client_id(
        broker: Mosquitto, setup: Setup, services: ServiceProcs,  # noqa: F811
        store: InfluxStore, clients: list[Client]) -> None:  # noqa: F811
    _start_ingester(services, setup)
    mn = _device(setup, "E0001", "G1")
    for attempt in range(3):
        intruder = Client(broker.port, mn, setup.auth.passwords[mn], client_id="ingest-1")
        clients.append(intruder)
        assert intruder.connack is not None
        assert intruder.connack.is_failure, attempt
        intruder.close()
    _send_readings(broker, setup, clients)
    wait_until(lambda: store.count("reading") == N_READINGS, 30, what="every reading stored")
    log = services.log("ingest")
    assert log.count("connected to") == 1, "the ingester kept its one connection and session"
    assert "lost the broker" not in log


def test_a_device_cannot_take_another_devices_client_id(
        broker: Mosquitto, setup: Setup, clients: list[Client]) -> None:  # noqa: F811
    mn, other = _device(setup, "E0001", "G1"), _device(setup, "E0002", "G1")
    victim = Client(broker.port, other, setup.auth.passwords[other])
    clients.append(victim)
    intruder = Client(broker.port, mn, setup.auth.passwords[mn], client_id=other)
    clients.append(intruder)
    assert intruder.connack is not None
    assert intruder.connack.is_failure
    assert victim.publish("emissions/E0002/G1") in ("Success", "No matching subscribers")
    assert not victim.dropped.is_set()
