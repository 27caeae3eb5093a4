"""Devices attacking the ingesters through the broker (issue 11, findings 1 and 2), against a
real Mosquitto with the generated dynamic security file and a real ingester process."""

from __future__ import annotations

import orjson
import pytest

from devstack.servers import Mosquitto
from store.influx import InfluxStore
from tests.broker_auth_support import AuthSetup, Client, device_of
from tests.conftest import SERVICE_NOW_MS, ServiceProcs, start_ready, wait_until

N_READINGS = 400
# Filters a device might use to read or steal others' data; the last one is its own topic.
STOLEN = ["$share/ingest/emissions/#", "$share/ingest/hj212/#", "emissions/#", "hj212/#", "#",
          "$share/other/emissions/#", "emissions/E0002/G1", "$SYS/#", "emissions/E0001/G1"]


@pytest.fixture
def broker(auth_broker: Mosquitto) -> Mosquitto:
    """The broker the ``services`` of this module's tests connect to: the secured one."""
    return auth_broker


def _start_ingester(services: ServiceProcs, auth_setup: AuthSetup) -> None:
    start_ready(services, "ingest", "ingest", EMS_MQTT_USERNAME="ingest",
                EMS_MQTT_PASSWORD=auth_setup.services["ingest"], EMS_INGEST_CLIENT_ID="ingest-1")


def _send_readings(auth_broker: Mosquitto, auth_setup: AuthSetup,
                   auth_clients: list[Client]) -> None:
    """N_READINGS readings from the device of E0002/G1, each acknowledged by the broker."""
    mn = device_of(auth_setup, "E0002", "G1")
    dev = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn])
    auth_clients.append(dev)
    base = SERVICE_NOW_MS - 120 * 60_000  # two hours before: inside the accepted window
    infos = [dev.client.publish("emissions/E0002/G1", orjson.dumps(
        {"ts": base + i * 1000, "device": mn, "values": {"so2": 10.0 + i}}), qos=1)
        for i in range(N_READINGS)]
    for info in infos:
        info.wait_for_publish(20)
    assert all(info.is_published() for info in infos)
    assert all(dev.pubacks.get(info.mid) == "Success" for info in infos)


@pytest.mark.parametrize("topic", STOLEN)
def test_a_device_may_subscribe_to_nothing(auth_broker: Mosquitto, auth_setup: AuthSetup,
                                           auth_clients: list[Client], topic: str) -> None:
    mn = device_of(auth_setup, "E0001", "G1")
    dev = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn])
    auth_clients.append(dev)
    assert str(dev.connack) == "Success"
    assert dev.subscribe(topic) == ["Not authorized"]


@pytest.mark.slow
def test_a_device_in_the_shared_subscription_steals_nothing(
        auth_broker: Mosquitto, auth_setup: AuthSetup, services: ServiceProcs,
        store: InfluxStore, auth_clients: list[Client]) -> None:
    _start_ingester(services, auth_setup)
    mn = device_of(auth_setup, "E0001", "G1")
    thief = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn])
    auth_clients.append(thief)
    assert thief.subscribe("$share/ingest/emissions/#", "$share/ingest/hj212/#") == [
        "Not authorized", "Not authorized"]
    _send_readings(auth_broker, auth_setup, auth_clients)
    wait_until(lambda: store.count("reading") == N_READINGS, 30, what="every reading stored")
    assert thief.messages == []


@pytest.mark.slow
def test_a_device_cannot_take_over_the_ingesters_client_id(
        auth_broker: Mosquitto, auth_setup: AuthSetup, services: ServiceProcs,
        store: InfluxStore, auth_clients: list[Client]) -> None:
    _start_ingester(services, auth_setup)
    mn = device_of(auth_setup, "E0001", "G1")
    for attempt in range(3):
        intruder = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn], client_id="ingest-1")
        auth_clients.append(intruder)
        assert intruder.connack is not None
        assert intruder.connack.is_failure, attempt
        intruder.close()
    _send_readings(auth_broker, auth_setup, auth_clients)
    wait_until(lambda: store.count("reading") == N_READINGS, 30, what="every reading stored")
    log = services.log("ingest")
    assert log.count("connected to") == 1, "the ingester kept its one connection and session"
    assert "lost the broker" not in log


def test_a_device_cannot_take_another_devices_client_id(
        auth_broker: Mosquitto, auth_setup: AuthSetup, auth_clients: list[Client]) -> None:
    mn, other = device_of(auth_setup, "E0001", "G1"), device_of(auth_setup, "E0002", "G1")
    victim = Client(auth_broker.port, other, auth_setup.auth.passwords[other])
    auth_clients.append(victim)
    intruder = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn], client_id=other)
    auth_clients.append(intruder)
    assert intruder.connack is not None
    assert intruder.connack.is_failure
    assert victim.publish("emissions/E0002/G1") in ("Success", "No matching subscribers")
    assert not victim.dropped.is_set()
