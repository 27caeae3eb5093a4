"""python -m ingest.gateway: run the HJ 212 TCP gateway until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from core.clock import shifted, shifted_ns
from core.health import serve_health
from core.logs import setup_logging
from ingest.gateway.forwarder import Forwarder
from ingest.gateway.healer import Healer
from ingest.gateway.rejections import RejectionRecorder
from ingest.gateway.server import GatewayServer
from ingest.gateway.settings import GatewaySettings
from store.influx import store_from_settings
from store.registry_loads import load_recorded

log = logging.getLogger("ingest.gateway")


def not_ready(forwarder: Forwarder, server: GatewayServer) -> str | None:
    """Why the gateway cannot take frames now (its ``/ready``); None once it can."""
    problem = forwarder.problem()
    if problem:
        return problem
    if not forwarder.connected.is_set():
        return "not connected to the broker"
    if not server.listening:
        return "not listening"
    return None


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    registry = load_recorded(settings, "gateway")
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    nodes = settings.broker_nodes()
    forwarder = Forwarder(host=nodes[0][0], port=nodes[0][1], nodes=nodes,
                          version=settings.gateway_mqtt_version,
                          client_id=settings.gateway_client_id,
                          username=settings.mqtt_username, password=password,
                          keepalive_s=settings.mqtt_keepalive_s,
                          max_inflight=settings.gateway_max_inflight,
                          max_queued=settings.gateway_max_connections
                          * settings.gateway_window_frames)
    store = store_from_settings(settings)
    rejections = RejectionRecorder(store, shifted_ns(settings.clock_offset_s))
    server = GatewayServer(host=settings.gateway_host, port=settings.gateway_port,
                           registry=registry, forwarder=forwarder,
                           idle_timeout_s=settings.gateway_idle_timeout_s,
                           max_frame_bytes=settings.gateway_max_frame_bytes,
                           max_connections=settings.gateway_max_connections,
                           publish_timeout_s=settings.gateway_publish_timeout_s,
                           window_frames=settings.gateway_window_frames,
                           rejections=rejections)
    if settings.gateway_metrics_port:  # /metrics, and /ready once connected and listening
        serve_health(settings.gateway_metrics_port, "127.0.0.1",
                     lambda: not_ready(forwarder, server))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    healer = None
    if settings.gateway_heal:
        healer = Healer(store=store, registry=registry,
                        peers=server.peers, scan_s=settings.gateway_heal_scan_s,
                        lookback_min=settings.gateway_heal_lookback_min,
                        grace_min=settings.gateway_heal_grace_min,
                        min_interval_s=settings.gateway_heal_min_interval_s,
                        max_minutes=settings.gateway_heal_max_minutes,
                        answer_timeout_s=settings.gateway_heal_answer_timeout_s,
                        max_attempts=settings.gateway_heal_max_attempts,
                        settle_s=min(10.0, settings.gateway_heal_scan_s),
                        now_ms=shifted(settings.clock_offset_s))
        server.on_interaction = healer.on_interaction
    forwarder.start()
    rejections.start()
    server.start()
    if healer is not None:
        healer.start()
    log.info("gateway listening on %s:%d for %d devices; forwarding to hj212/{MN} on %s "
             "(MQTT %s)", settings.gateway_host, server.port, len(registry.devices),
             ", ".join(f"{h}:{p}" for h, p in nodes), settings.gateway_mqtt_version)
    while not done.wait(1.0):
        problem = forwarder.problem()
        if problem:  # watchdog: nothing can be forwarded any more; let the supervisor restart
            log.critical("%s; exiting so that the gateway is restarted", problem)
            server.stop()
            sys.exit(1)
    log.info("stopping")
    if healer is not None:
        healer.stop()
    server.stop()
    rejections.stop()
    forwarder.stop()
    log.info("gateway stopped")


if __name__ == "__main__":
    main()
