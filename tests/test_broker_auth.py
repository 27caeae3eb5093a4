"""Broker credentials and ACL from the registry, checked against a real Mosquitto."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from core.registry import Registry, build_registry
from core.standards import load_standards
from devstack.servers import Mosquitto
from mqtt.access import (
    SERVICE_RIGHTS,
    BrokerAuth,
    BrokerAuthError,
    build_auth,
    dynsec_password,
    hash_password,
    load_secrets,
    write_auth,
)
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.broker_auth_support import AuthSetup, Client, device_of
from tests.conftest import ROOT, SERVICE_NOW_MS, ServiceProcs, start_ready, wait_until

STANDARDS = load_standards(ROOT / "config" / "limits.toml")

# Pure ---------------------------------------------------------------------------------------


def test_hash_matches_mosquitto_passwd() -> None:
    # produced by `mosquitto_passwd -b pw alice secret` (Mosquitto 2.0.11)
    salt = "w/U5sQvqq5SP0ytt"
    expected = ("$7$101$w/U5sQvqq5SP0ytt$ZILuEXuWXpraDkH2BDCqqszrZ3JjgGqoBKA1mOgFGF+WIBEWv5eFp6"
                "fOT0RvXd+jzZkyXCvBf7CFrK0FNHkEZg==")
    assert hash_password("secret", salt=base64.b64decode(salt)) == expected
    assert hash_password("secret") != hash_password("secret")  # a fresh salt each time


def _small_registry() -> Registry:
    return build_registry({"enterprise": [
        {"id": "E1", "outlet": [{"id": "G1", "device": [{"mn": "MN11"}]},
                                {"id": "G2", "device": [{"mn": "MN12"}]}]},
        {"id": "E2", "outlet": [{"id": "G1", "device": [{"mn": "MN21"}]}]},
    ]}, STANDARDS)


def test_dynsec_config_names_each_device_topic_and_service_right() -> None:
    auth = build_auth(_small_registry(), {"MN11": "a", "MN21": "b"},
                      {"ingest": "i", "gateway": "g"})
    assert auth.devices_without_password == ["MN12"]
    conf = auth.dynsec_config()
    assert conf["defaultACLAccess"] == {"publishClientSend": False,
                                        "publishClientReceive": False,
                                        "subscribe": False, "unsubscribe": True}
    clients = {c["username"]: c for c in conf["clients"]}  # type: ignore[attr-defined]
    assert sorted(clients) == ["MN11", "MN21", "gateway", "ingest"]
    # devices are bound to their own MN as client id; services are not
    assert {u: c.get("clientid") for u, c in clients.items()} == {
        "MN11": "MN11", "MN21": "MN21", "gateway": None, "ingest": None}
    assert all(c["iterations"] == 101 and len(base64.b64decode(c["salt"])) == 12
               and len(base64.b64decode(c["password"])) == 64 for c in clients.values())
    roles = {r["rolename"]: [(a["acltype"], a["topic"]) for a in r["acls"]]
             for r in conf["roles"]}  # type: ignore[attr-defined]
    assert roles == {
        "device-MN11": [("publishClientSend", "emissions/E1/G1"),
                        ("publishClientSend", "hj212/MN11")],
        "device-MN21": [("publishClientSend", "emissions/E2/G1"),
                        ("publishClientSend", "hj212/MN21")],
        "service-gateway": [("publishClientSend", "hj212/#")],
        "service-ingest": [("subscribePattern", "emissions/#"),
                           ("publishClientReceive", "emissions/#"),
                           ("subscribePattern", "hj212/#"),
                           ("publishClientReceive", "hj212/#")]}


def test_dynsec_password_matches_mosquitto_ctrl() -> None:
    # `mosquitto_ctrl dynsec init d.json admin adminpw` (Mosquitto 2.0.11) wrote this client
    salt = base64.b64decode("laFXLsOEerEC4zsB")
    assert dynsec_password("adminpw", salt=salt) == {
        "password": "7MU9z5ue/r+0edmcHUApDijQ+PCuar9Bg3ky93pM4Y+VXycN99y0oQI2icN6f36p+gjA2NSRP"
                    "c/CnZH7bzzXqQ==", "salt": "laFXLsOEerEC4zsB", "iterations": 101}


@pytest.mark.parametrize(("services", "message"), [
    ({"printer": "x"}, "no rights defined for service"),
    ({"ingest": ""}, "empty password"),
])
def test_bad_service_lists_are_refused(services: dict[str, str], message: str) -> None:
    with pytest.raises(BrokerAuthError, match=message):
        build_auth(_small_registry(), {}, services)


def test_a_device_named_like_a_service_is_refused() -> None:
    reg = build_registry({"enterprise": [
        {"id": "E1", "outlet": [{"id": "G1", "device": [{"mn": "ingest"}]}]}]}, STANDARDS)
    with pytest.raises(BrokerAuthError, match="equal a service user name"):
        build_auth(reg, {"ingest": "x"}, {"ingest": "y"})


def test_secrets_file_as_the_fleet_writes_it(tmp_path: Path, fleet: Fleet) -> None:
    devices, services = load_secrets(tmp_path / "secrets.toml")
    assert devices == fleet.passwords
    assert services == {}
    (tmp_path / "more.toml").write_text('[device_password]\nA = "1"\n'
                                        '[service_password]\ningest = "2"\n')
    assert load_secrets(tmp_path / "more.toml") == ({"A": "1"}, {"ingest": "2"})
    (tmp_path / "bad.toml").write_text("[service_password]\ningest = 3\n")
    with pytest.raises(BrokerAuthError, match="service_password"):
        load_secrets(tmp_path / "bad.toml")


def test_files_are_private(tmp_path: Path) -> None:
    auth = build_auth(_small_registry(), {"MN11": "a"}, {})
    path = write_auth(auth, tmp_path / "auth")
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list((tmp_path / "auth").glob(".*"))  # no temporary left behind


# Real broker (tests/broker_auth_support.py) -------------------------------------------------

@pytest.fixture
def broker(auth_broker: Mosquitto) -> Mosquitto:
    """The broker the ``services`` of this module's tests connect to: the secured one."""
    return auth_broker


def test_devices_publish_only_to_their_own_topics(auth_broker: Mosquitto, auth_setup: AuthSetup,
                                                  auth_clients: list[Client]) -> None:
    mn = device_of(auth_setup, "E0001", "G1")
    other_mn = device_of(auth_setup, "E0002", "G1")
    ingest = Client(auth_broker.port, "ingest", auth_setup.services["ingest"])
    auth_clients.append(ingest)
    ingest.subscribe("emissions/#", "hj212/#")
    refused = ["emissions/E0002/G1",  # another enterprise
               "emissions/E0001/G2",  # another outlet of its own enterprise
               f"hj212/{other_mn}",  # another device's HJ 212 topic
               "emissions/E0001/G1/extra", "hj212", "$SYS/broker/anything"]
    for topic in refused:
        dev = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn])
        auth_clients.append(dev)
        assert str(dev.connack) == "Success"
        assert dev.publish(topic, b"refused") == "Not authorized", topic
        wait_until(dev.dropped.is_set, 10, what="the broker to close the connection")
    dev = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn])
    auth_clients.append(dev)
    assert dev.publish(f"hj212/{mn}", b"mine-hj212") == "Success"
    assert dev.publish("emissions/E0001/G1", b"mine-json") == "Success"
    wait_until(lambda: len(ingest.messages) >= 2, 10, what="the allowed messages")
    # QoS 1 from one client keeps its order: the refused ones, published first, never came
    assert ingest.messages == [(f"hj212/{mn}", b"mine-hj212"),
                               ("emissions/E0001/G1", b"mine-json")]


@pytest.mark.parametrize(("user", "password"), [
    ("E0001-wrong", "x"), (None, None), ("ingest", "not-the-password"), ("alerts", ""),
])
def test_wrong_credentials_cannot_connect(auth_broker: Mosquitto, auth_setup: AuthSetup,
                                          auth_clients: list[Client], user: str | None,
                                          password: str | None) -> None:
    c = Client(auth_broker.port, user, password)
    auth_clients.append(c)
    assert c.connack is not None
    assert c.connack.is_failure
    assert str(c.connack) in ("Not authorized", "Bad user name or password")


def test_a_device_password_is_not_valid_for_another_device(
        auth_broker: Mosquitto, auth_setup: AuthSetup, auth_clients: list[Client]) -> None:
    mn, other = device_of(auth_setup, "E0001", "G1"), device_of(auth_setup, "E0002", "G1")
    c = Client(auth_broker.port, other, auth_setup.auth.passwords[mn])
    auth_clients.append(c)
    assert c.connack is not None
    assert c.connack.is_failure


def test_services_have_only_their_rights(auth_broker: Mosquitto, auth_setup: AuthSetup,
                                         auth_clients: list[Client]) -> None:
    ingest = Client(auth_broker.port, "ingest", auth_setup.services["ingest"])
    alerts = Client(auth_broker.port, "alerts", auth_setup.services["alerts"])
    auth_clients.extend([ingest, alerts])
    assert ingest.publish("emissions/E0001/G1") == "Not authorized"
    assert alerts.publish("hj212/x") == "Not authorized"
    alerts = Client(auth_broker.port, "alerts", auth_setup.services["alerts"])
    auth_clients.append(alerts)
    alerts.subscribe("$SYS/broker/uptime")
    wait_until(lambda: alerts.messages, 15, what="$SYS uptime for the alerts user")
    assert SERVICE_RIGHTS["alerts"] == (("read", "$SYS/#"),)


@pytest.mark.slow
def test_the_ingester_still_rejects_a_device_at_a_foreign_outlet(
        auth_broker: Mosquitto, auth_setup: AuthSetup, services: ServiceProcs, store: InfluxStore,
        auth_clients: list[Client]) -> None:
    """Defence in depth: even if the ACL let a device publish elsewhere, the ingester checks
    the registry and stores a device_mismatch rejection instead of readings."""
    mn = device_of(auth_setup, "E0001", "G1")
    start_ready(services, "ingest", "ingest", EMS_MQTT_USERNAME="ingest",
                EMS_MQTT_PASSWORD=auth_setup.services["ingest"])
    # loosen the ACL on purpose, as a mistaken edit would, and restart the broker with it
    rules = {**auth_setup.auth.rules,
             mn: (*auth_setup.auth.rules[mn], ("write", "emissions/E0002/G1"))}
    write_auth(BrokerAuth(auth_setup.auth.passwords, rules), auth_setup.dynsec.parent)
    auth_broker.stop()
    auth_broker.start()
    dev = Client(auth_broker.port, mn, auth_setup.auth.passwords[mn])
    auth_clients.append(dev)
    payload = orjson.dumps({"ts": SERVICE_NOW_MS, "device": mn,
                            "values": {"so2": 20.0}})
    wait_until(lambda: dev.publish("emissions/E0002/G1", payload) == "Success", 10,
               what="the broker to take the loosened rules")
    rows = wait_until(lambda: [r for s in store.query(
        "SELECT * FROM rejection WHERE reason = 'device_mismatch'") for r in s.rows()],
        20, what="a device_mismatch rejection")
    assert rows[0]["topic"] == "emissions/E0002/G1"
    assert mn in rows[0]["detail"]
    assert store.count("reading") == 0
    assert "Not authorized" not in services.log("ingest")
