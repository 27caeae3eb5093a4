"""The HJ 212 gateway in front of the NATS cluster (issue 17): it speaks MQTT 3.1.1 to one node,
moves to the next when that node is SIGKILLed mid-stream, and every reading a device uploaded
is stored once (an ingester on the JetStream consumer)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from devstack.natscluster import NatsCluster
from devstack.servers import free_port
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.cluster_support import start_cluster_ingester
from tests.conftest import ServiceProcs, start_ready, wait_until
from tests.test_gateway import Device, n_values, qn_of, upload

pytestmark = pytest.mark.slow  # three broker nodes, a gateway and an ingester process

BURST = 10  # frames a device sends before it reads the replies
DEVICE_TIMEOUT_S = 6.0  # a frame unanswered this long is sent again (hj212.md §7: 5-10 s)


def answered(device: Device, frames: dict[str, bytes], timeout_s: float) -> set[str]:
    """The QNs of ``frames`` the gateway answered within ``timeout_s`` (it may answer none)."""
    got: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while got < frames.keys() and time.monotonic() < deadline:
        if device.nothing_within(max(0.01, deadline - time.monotonic())):
            break
        *lines, device.buf = device.buf.split(b"\r\n")
        got.update(qn_of(line + b"\r\n") or "" for line in lines)
    return got & frames.keys()


def upload_burst(device: Device, frames: dict[str, bytes],
                 before_replies: Callable[[], None] | None = None, rounds: int = 4) -> int:
    """Send ``frames`` as a device does: all at once, then again those left unanswered after
    the device's time-out; returns how many were sent again. ``before_replies`` runs between
    the first sending and the first reading of replies."""
    left, resent = dict(frames), 0
    for attempt in range(rounds):
        device.send(b"".join(left.values()))
        if attempt == 0 and before_replies is not None:
            before_replies()
        for qn in answered(device, left, DEVICE_TIMEOUT_S):
            del left[qn]
        if not left:
            return resent
        resent += len(left)
    pytest.fail(f"{len(left)} frames unanswered after {rounds} sendings")


def test_every_frame_is_stored_once_across_a_kill_of_the_gateways_node(
        services: ServiceProcs, cluster: NatsCluster, store: InfluxStore, fleet: Fleet) -> None:
    start_cluster_ingester(services, cluster, "ingest-a")
    port = free_port()
    nodes = ",".join(f"127.0.0.1:{p}" for p in cluster.mqtt_ports)
    start_ready(services, "ingest.gateway", "gateway", timeout_s=40, EMS_GATEWAY_PORT=str(port),
                EMS_GATEWAY_MQTT_NODES=nodes, EMS_GATEWAY_MQTT_VERSION="3.1.1",
                EMS_GATEWAY_HEAL="false")
    minutes = iter(range(10_000))
    bursts = [{qn_of(f) or "": f for f in (upload(fleet, 0, next(minutes))
                                            for _ in range(BURST))} for _ in range(6)]
    device = Device(port, timeout_s=DEVICE_TIMEOUT_S)
    try:
        resent = [upload_burst(device, b) for b in bursts[:2]]
        # the gateway's node (the first listed) dies while the third burst is in flight
        resent.append(upload_burst(device, bursts[2], before_replies=cluster.nodes[0].kill))
        resent += [upload_burst(device, b) for b in bursts[3:]]
    finally:
        device.close()
    total = len(bursts) * BURST * n_values(fleet, 0)
    wait_until(lambda: store.count("reading") == total, timeout_s=30,
               what=f"all {total} readings")
    services.stop_all()
    assert store.count("reading") == total  # each once: a second copy overwrites its points
    assert resent[:2] + resent[3:] == [0] * 5, resent  # only the kill cost any resending
    log = services.log("gateway")
    assert f"trying the broker node at 127.0.0.1:{cluster.mqtt_ports[1]}" in log
