"""Credentials and permissions of the NATS cluster, generated from the registry (issue 17).

The clustered tier's counterpart of ``mqtt.access`` (same users, same passwords, same secrets
file): ``nats_authorization`` turns a ``BrokerAuth`` into the ``authorization`` block that
``devstack.natscluster`` appends to every node's configuration. NATS checks an MQTT client's
rights on the subject its topic maps to (``/`` becomes ``.``), so:

- a device may publish only to ``emissions.{enterprise}.{outlet}`` and ``hj212.{MN}`` (its own
  topics) and subscribe to nothing (``deny: [">"]``): it cannot publish as another device;
- ``ingest`` consumes the stream: the JetStream API, acknowledgements of the stream's
  messages, and its own inboxes (where pull requests are answered); it publishes no reading;
- ``gateway`` and ``simulator`` publish what ``SERVICE_RIGHTS`` lets them write.

Services without a NATS counterpart (``alerts`` and ``monitor`` read Mosquitto's ``$SYS``) get
no user. Passwords are bcrypt hashes (NATS accepts ``$2a$``/``$2b$``), so the file holds no
password in clear; it is still written readable by its owner only.

Unlike Mosquitto's plugin, NATS does not bind a user to one MQTT client id: a device could
connect under another device's client id and so end that device's session (not publish as it).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bcrypt

from core.logs import setup_logging
from core.registry import load_registry
from core.standards import load_standards
from mqtt.access import (
    SERVICE_RIGHTS,
    BrokerAuth,
    BrokerAuthSettings,
    _write_private,
    build_auth,
    load_secrets,
)

log = logging.getLogger(__name__)

NATS_AUTH_FILE = "nats-auth.conf"
BCRYPT_COST = 11  # NATS's own default (`nats server passwd`)
STREAM = "$MQTT_msgs"  # the ingesters consume the MQTT layer's stream (ingest/jetstream.py)

# What the services may do on the NATS side (the ingester speaks NATS, not MQTT).
NATS_SERVICE_PERMISSIONS: dict[str, dict[str, object]] = {
    "ingest": {"publish": {"allow": ["$JS.API.>", f"$JS.ACK.{STREAM}.>"]},
               "subscribe": {"allow": ["_INBOX.>"]}},
}


def subject(topic: str) -> str:
    """The NATS subject of an MQTT topic (or filter: ``#`` is ``>``, ``+`` is ``*``)."""
    return ".".join(">" if lvl == "#" else "*" if lvl == "+" else lvl
                    for lvl in topic.split("/"))


def permissions(auth: BrokerAuth, user: str) -> dict[str, object]:
    if user in NATS_SERVICE_PERMISSIONS:
        return NATS_SERVICE_PERMISSIONS[user]
    writes = [subject(t) for access, t in auth.rules[user] if access in ("write", "readwrite")]
    return {"publish": {"allow": writes}, "subscribe": {"deny": [">"]}}


def nats_users(auth: BrokerAuth, cost: int = BCRYPT_COST) -> list[dict[str, object]]:
    users: list[dict[str, object]] = []
    for user in sorted(auth.passwords):
        if user in SERVICE_RIGHTS and user not in NATS_SERVICE_PERMISSIONS and not any(
                a in ("write", "readwrite") for a, _ in SERVICE_RIGHTS[user]):
            continue  # alerts, monitor: Mosquitto's $SYS only
        hashed = bcrypt.hashpw(auth.passwords[user].encode("utf-8"),
                               bcrypt.gensalt(cost)).decode()
        users.append({"user": user, "password": hashed, "permissions": permissions(auth, user)})
    return users


def nats_authorization(auth: BrokerAuth, cost: int = BCRYPT_COST) -> str:
    """The ``authorization`` block (NATS configuration accepts JSON values)."""
    return f"authorization {json.dumps({'users': nats_users(auth, cost)}, indent=1)}\n"


def write_nats_auth(auth: BrokerAuth, out_dir: Path, cost: int = BCRYPT_COST,
                    owner: tuple[int, int] | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / NATS_AUTH_FILE
    _write_private(path, nats_authorization(auth, cost), owner)
    return path


def main() -> None:
    """``python -m mqtt.natsaccess``: the settings of ``python -m mqtt.access``; writes
    ``nats-auth.conf`` into EMS_BROKER_AUTH_DIR (each node includes it: restart the nodes one at
    a time after a registry change, or send them SIGHUP, NATS's config reload: not tested here)."""
    settings = BrokerAuthSettings()
    setup_logging(settings.log_level)
    registry = load_registry(settings.registry_path, load_standards(settings.limits_path))
    devices, services = load_secrets(settings.broker_secrets_path)
    auth = build_auth(registry, devices, settings.service_passwords(services))
    path = write_nats_auth(auth, settings.broker_auth_dir, owner=settings.owner())
    log.info("wrote %s: %d users", path, len(auth.passwords))


if __name__ == "__main__":
    main()
