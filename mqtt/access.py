"""Broker credentials and access rules, generated from the registry (DESIGN §5).

``python -m mqtt.access`` writes the configuration of Mosquitto's dynamic security plugin
(``dynamic-security.json``), which does both authentication and access control:

- every registered device with a password in the secrets file is a client named by its device
  number (MN), bound to the client id MN (it cannot connect under any other id, so it cannot
  take over a service's session), allowed to publish only to
  ``emissions/{its enterprise}/{its outlet}`` and ``hj212/{its MN}`` and to subscribe to
  nothing; its MQTT password is its HJ 212 access password (PW);
- each service with a password is a client of its own with the rights in ``SERVICE_RIGHTS``.

Nothing else is allowed (every default access is "deny"), and the shipped broker configuration
turns anonymous access off.

Why the plugin and not a password file with an ACL file, measured on Mosquitto 2.0.11
(tests/test_broker_auth.py): the ACL file never checks a SUBSCRIBE (every filter is granted,
``$share/ingest/...`` included; read rights are checked only when a message is delivered), so a
device could join the ingesters' shared subscription and the broker dealt it messages it then
dropped; and any client could connect with any client id, taking over an ingester's persistent
session. The plugin checks each SUBSCRIBE against ``subscribePattern`` rules on the whole filter,
``$share/{group}/`` included (``emissions/#`` does not grant ``$share/ingest/emissions/#``), and
binds a client to one client id.

Device passwords come from the secrets file that ``simulators.fleet.Fleet.write`` produces (a
``[device_password]`` table, MN = password); service passwords from its ``[service_password]``
table or from ``EMS_BROKER_<SERVICE>_PASSWORD`` (the environment wins).

Passwords are stored as the plugin stores them (PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key,
101 iterations, as ``mosquitto_ctrl`` does), so no broker binary is needed to write them. The
plugin reads its file only when the broker starts (a SIGHUP does not reload it, measured): after
a registry change, rewrite the file and restart the broker (sessions and queued messages are
kept by its persistence).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from core.logs import setup_logging
from core.registry import Registry, load_registry
from core.settings import CommonSettings
from core.standards import load_standards

log = logging.getLogger(__name__)

# read: subscribe to and receive; write: publish; subscribe: only subscribe (a shared
# subscription's filter, whose messages are received under their own topics' read rights).
Access = Literal["read", "write", "readwrite", "subscribe"]
Rule = tuple[Access, str]

DYNSEC_FILE = "dynamic-security.json"

# The services' users and what each may do. The simulator impersonates whole fleets: give it a
# password only in demo and test deployments.
SERVICE_RIGHTS: dict[str, tuple[Rule, ...]] = {
    # plain persistent subscriptions, a partition of the registry each (ingest/topics.py): no
    # shared subscription, which Mosquitto 2.0.11 does not restore after a restart
    "ingest": (("read", "emissions/#"), ("read", "hj212/#")),
    "gateway": (("write", "hj212/#"),),
    "alerts": (("read", "$SYS/#"),),  # the dropped-message counter (alerts.io.brokerwatch)
    "monitor": (("read", "$SYS/#"),),  # health checks and metrics exporters
    "simulator": (("write", "emissions/#"), ("write", "hj212/#")),
}

HASH_ITERATIONS = 101
SALT_BYTES = 12


class BrokerAuthError(ValueError):
    """The registry, the secrets or the service list cannot make a consistent broker set-up."""


def hash_password(password: str, *, iterations: int = HASH_ITERATIONS,
                  salt: bytes | None = None) -> str:
    """A Mosquitto 2.0 password hash (``$7$iterations$salt$key``, base64 with padding)."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return (f"$7${iterations}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(key).decode()}")


def dynsec_password(password: str, *, iterations: int = HASH_ITERATIONS,
                    salt: bytes | None = None) -> dict[str, str | int]:
    """The ``password``, ``salt`` and ``iterations`` of a dynamic security client."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return {"password": base64.b64encode(key).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": iterations}


def acls(rules: Iterable[Rule]) -> list[dict[str, str | bool]]:
    """The plugin's ACL entries of a user's rules."""
    out: list[dict[str, str | bool]] = []
    for access, topic in rules:
        kinds = {"read": ("subscribePattern", "publishClientReceive"),
                 "write": ("publishClientSend",), "subscribe": ("subscribePattern",),
                 "readwrite": ("subscribePattern", "publishClientReceive", "publishClientSend")}
        out.extend({"acltype": kind, "topic": topic, "allow": True} for kind in kinds[access])
    return out


def device_rules(registry: Registry) -> dict[str, tuple[Rule, ...]]:
    """Each device's topics: its outlet's JSON topic and its own HJ 212 topic."""
    return {mn: (("write", f"emissions/{d.enterprise_id}/{d.outlet_id}"),
                 ("write", f"hj212/{mn}"))
            for mn, d in sorted(registry.devices.items())}


@dataclass(frozen=True)
class BrokerAuth:
    """Users with their passwords, and each user's rules."""

    passwords: dict[str, str]
    rules: dict[str, tuple[Rule, ...]]
    devices_without_password: list[str] = field(default_factory=list)

    def role_of(self, user: str) -> str:
        return f"service-{user}" if user in SERVICE_RIGHTS else f"device-{user}"

    def dynsec_config(self, iterations: int = HASH_ITERATIONS) -> dict[str, object]:
        """The plugin's configuration: one client and one role per user, every default denied.

        A device is bound to the client id of its own MN; services choose theirs (an ingester's
        id names its persistent session, and several ingesters share the ``ingest`` user)."""
        clients = []
        for user in sorted(self.passwords):
            client: dict[str, object] = {"username": user, "roles": [
                {"rolename": self.role_of(user)}], **dynsec_password(
                    self.passwords[user], iterations=iterations)}
            if user not in SERVICE_RIGHTS:
                client["clientid"] = user
            clients.append(client)
        roles = [{"rolename": self.role_of(user), "acls": acls(self.rules[user])}
                 for user in sorted(self.rules)]
        return {"defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                                     "subscribe": False, "unsubscribe": True},
                "clients": clients, "roles": roles, "groups": []}


def build_auth(registry: Registry, device_passwords: Mapping[str, str],
               service_passwords: Mapping[str, str]) -> BrokerAuth:
    """Users and rules for the registered devices that have a password, and the services."""
    unknown = sorted(set(service_passwords) - set(SERVICE_RIGHTS))
    if unknown:
        raise BrokerAuthError(f"no rights defined for service(s) {', '.join(unknown)}; "
                              f"known: {', '.join(SERVICE_RIGHTS)}")
    clash = sorted(set(service_passwords) & set(registry.devices))
    if clash:
        raise BrokerAuthError(f"device number(s) {', '.join(clash)} equal a service user name")
    passwords: dict[str, str] = {}
    rules: dict[str, tuple[Rule, ...]] = {}
    missing = []
    for mn, dev_rules in device_rules(registry).items():
        pw = device_passwords.get(mn)
        if not pw:
            missing.append(mn)
            continue
        passwords[mn] = pw
        rules[mn] = dev_rules
    for name, pw in service_passwords.items():
        if not pw:
            raise BrokerAuthError(f"service {name} has an empty password")
        passwords[name] = pw
        rules[name] = SERVICE_RIGHTS[name]
    return BrokerAuth(passwords, rules, missing)


def load_secrets(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Device and service passwords from a secrets file (``[device_password]``,
    ``[service_password]``); either table may be missing."""
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    tables = []
    for name in ("device_password", "service_password"):
        table = doc.get(name, {})
        if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
            raise BrokerAuthError(f"{path}: [{name}] must map names to password strings")
        tables.append(dict(table))
    return tables[0], tables[1]


def new_service_passwords(names: Iterable[str]) -> dict[str, str]:
    """Random passwords for services, e.g. for a local stack that lives as long as its run."""
    return {name: secrets.token_urlsafe(18) for name in names}


def _write_private(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    """Write a file readable by its owner only, replacing the old one in one step."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    if owner is not None:
        os.chown(tmp, *owner)
    os.replace(tmp, path)


def write_auth(auth: BrokerAuth, out_dir: Path, iterations: int = HASH_ITERATIONS,
               owner: tuple[int, int] | None = None) -> Path:
    """Write the plugin's file into ``out_dir`` (owned by ``owner`` if given)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / DYNSEC_FILE
    _write_private(path, json.dumps(auth.dynsec_config(iterations), indent=1) + "\n", owner)
    return path


class BrokerAuthSettings(CommonSettings):
    """Settings of ``python -m mqtt.access`` (environment prefix EMS_)."""

    # Secrets file with [device_password] (as simulators.fleet writes it) and, optionally,
    # [service_password].
    broker_secrets_path: Path = Path("var/secrets.toml")
    broker_auth_dir: Path = Path("var/broker")  # where dynamic-security.json is written
    broker_hash_iterations: int = HASH_ITERATIONS  # PBKDF2 rounds of the password hashes
    # "uid:gid" to give the written files to, so that a broker running as another user can
    # read them (1883:1883 for the eclipse-mosquitto image); empty: the writer keeps them.
    broker_auth_owner: str = ""
    # Service passwords: each one given (not empty) makes a user of that name, with the
    # rights of SERVICE_RIGHTS; they override the secrets file's [service_password] table.
    broker_ingest_password: SecretStr | None = None  # reads emissions/# and hj212/#
    broker_gateway_password: SecretStr | None = None  # writes hj212/#
    broker_alerts_password: SecretStr | None = None  # reads $SYS/#
    broker_monitor_password: SecretStr | None = None  # reads $SYS/# (health checks)
    broker_simulator_password: SecretStr | None = None  # writes for every device: demo only

    def service_passwords(self, from_file: Mapping[str, str]) -> dict[str, str]:
        out = dict(from_file)
        for name in SERVICE_RIGHTS:
            value = getattr(self, f"broker_{name}_password")
            if value is not None and value.get_secret_value():  # empty: not given
                out[name] = value.get_secret_value()
        return out

    def owner(self) -> tuple[int, int] | None:
        if not self.broker_auth_owner:
            return None
        uid, _, gid = self.broker_auth_owner.partition(":")
        return int(uid), int(gid or uid)


def main() -> None:
    settings = BrokerAuthSettings()
    setup_logging(settings.log_level)
    registry = load_registry(settings.registry_path, load_standards(settings.limits_path))
    log.info("registry %s, secrets %s (EMS_REGISTRY_PATH and EMS_BROKER_SECRETS_PATH name "
             "others)", settings.registry_path, settings.broker_secrets_path)
    devices, services = load_secrets(settings.broker_secrets_path)
    auth = build_auth(registry, devices, settings.service_passwords(services))
    path = write_auth(auth, settings.broker_auth_dir, settings.broker_hash_iterations,
                      settings.owner())
    if auth.devices_without_password:
        log.warning("%d registered device(s) have no password in %s and cannot connect: %s",
                    len(auth.devices_without_password), settings.broker_secrets_path,
                    ", ".join(auth.devices_without_password[:10]))
    n_services = sum(1 for user in auth.rules if user in SERVICE_RIGHTS)
    log.info("wrote %s: %d devices, %d services (restart the broker to apply)", path,
             len(auth.rules) - n_services, n_services)


if __name__ == "__main__":
    main()
