"""The one way the service's processes make an MQTT client (paho-mqtt 2, MQTT 5)."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def new_client(client_id: str, *, username: str | None = None, password: str | None = None,
               manual_ack: bool = False, max_reconnect_delay_s: int = 10) -> mqtt.Client:
    """An MQTT 5 client with the version-2 callbacks, its login and reconnect back-off set."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if username:
        client.username_pw_set(username, password)
    client.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay_s)
    return client
