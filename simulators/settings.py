"""Settings of the simulator (environment prefix EMS_, e.g. EMS_SIM_MAX_OUTSTANDING)."""

from __future__ import annotations

from core.settings import CommonSettings


class SimSettings(CommonSettings):
    # MQTT client ids: <prefix>-<device number>; a device logged in as itself uses its number
    sim_client_prefix: str = "sim"
    # Messages that may wait for the broker's acknowledgement before the publisher waits.
    sim_max_outstanding: int = 2000
    sim_ack_timeout_s: float = 60.0
    # Each device logs in to the broker as itself (user = its device number, password = its
    # access password from the secrets file, as mqtt.access sets them up); false: every
    # device uses EMS_MQTT_USERNAME / EMS_MQTT_PASSWORD (e.g. the `simulator` service user).
    sim_device_login: bool = False
    # The HJ 212 TCP gateway, for outlets with protocol "hj212-tcp" (0: none).
    sim_gateway_host: str = "127.0.0.1"
    sim_gateway_port: int = 0
