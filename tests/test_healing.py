"""Gap healing through HJ 212 history requests: real broker, ingester and InfluxDB; the gateway
and its healer in this process, with "now" injected."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.registry import Registry, load_registry
from core.standards import load_standards
from devstack.servers import Mosquitto
from hj212 import encode_data
from ingest.gateway.forwarder import Forwarder
from ingest.gateway.healer import Healer, first_run
from ingest.gateway.server import GatewayServer
from simulators.fleet import Fleet
from simulators.hj212 import DataLogger, DataReplies
from simulators.links import Hj212TcpLink
from store.influx import InfluxStore
from tests.conftest import ROOT, SERVICE_NOW, ServiceProcs, start_ready, wait_until

T0 = SERVICE_NOW - timedelta(hours=2)
T0_MS = int(T0.timestamp() * 1000)
NOW_MS = T0_MS + 32 * 60_000  # injected: minutes 0..29 are due (grace 2 minutes)


def upload(fleet: Fleet, i: int, minute: int) -> bytes:
    sim = fleet.outlets[i]
    return encode_data({"so2": 10.0 + minute}, cn="2051", mn=sim.device,
                       pw=fleet.passwords[sim.device],
                       data_time=T0 + timedelta(minutes=minute), flag=5)


@pytest.fixture
def gateway(services: ServiceProcs, broker: Mosquitto, fleet: Fleet
            ) -> Iterator[tuple[GatewayServer, Registry]]:
    start_ready(services, "ingest", "ingest")
    registry = load_registry(services.tmp / "registry.toml",
                             load_standards(ROOT / "config" / "limits.toml"))
    fwd = Forwarder(host="127.0.0.1", port=broker.port, client_id="gw-heal-test")
    server = GatewayServer(host="127.0.0.1", port=0, registry=registry, forwarder=fwd,
                           idle_timeout_s=30, max_frame_bytes=10_011, max_connections=10,
                           publish_timeout_s=4)
    fwd.start()
    wait_until(fwd.connected.is_set, what="gateway connected to the broker")
    server.start()
    yield server, registry
    server.stop()
    fwd.stop()


def healer_for(server: GatewayServer, registry: Registry, store: InfluxStore,
               **kw: float) -> Healer:
    args: dict[str, float] = {"scan_s": 0.2, "lookback_min": 30, "grace_min": 2,
                              "min_interval_s": 1.0, "answer_timeout_s": 3.0, "settle_s": 0.5}
    args.update(kw)
    healer = Healer(store=store, registry=registry, peers=server.peers,
                    now_ms=lambda: NOW_MS, **args)  # type: ignore[arg-type]
    server.on_interaction = healer.on_interaction
    return healer


def test_first_run_takes_consecutive_periods_up_to_the_limit() -> None:
    table = [([], 3, []), ([0, 1, 2, 5], 10, [0, 1, 2]), ([0, 1, 2], 2, [0, 1]),
             ([4, 6], 10, [4])]
    for missing, limit, want in table:
        assert first_run(missing, 1, int(limit)) == want


@pytest.mark.slow
def test_minutes_a_logger_never_delivered_are_requested_and_recovered(
        gateway: tuple[GatewayServer, Registry], store: InfluxStore, fleet: Fleet) -> None:
    server, registry = gateway
    sim = fleet.outlets[0]
    link = Hj212TcpLink("127.0.0.1", server.port, matcher=DataReplies(sim.device),
                        logger=DataLogger())
    for minute in range(30):
        if 10 <= minute < 20:
            link.measure(upload(fleet, 0, minute))  # measured; its upload was lost
        else:
            assert link.send("", upload(fleet, 0, minute)).wait(10)
    assert link.missing == 0
    wait_until(lambda: store.count("reading") == 20, what="the 20 delivered minutes")
    healer = healer_for(server, registry, store)
    healer.start()
    try:
        deadline = time.monotonic() + 30
        while store.count("reading") < 30 and time.monotonic() < deadline:
            link.serve(0.2)  # the logger answers requests as it reads
        assert store.count("reading") == 30
        first = healer.sent[0]
        assert first.mn == sim.device
        assert first.minutes == [T0_MS + m * 60_000 for m in range(10, 20)]
        wait_until(lambda: healer.recovered == 10, what="the recovery counted")
        assert not any(r.outcome == "unanswered" for r in healer.sent)
    finally:
        healer.stop()
        link.close()


@pytest.mark.slow
def test_rate_limit_holds_and_a_silent_or_garbled_logger_stalls_nothing(
        gateway: tuple[GatewayServer, Registry], store: InfluxStore, fleet: Fleet) -> None:
    server, registry = gateway
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    silent.sendall(upload(fleet, 1, 0))  # admitted: the healer now knows this logger
    wait_until(lambda: fleet.outlets[1].device in server.peers(), what="silent logger seen")
    healer = healer_for(server, registry, store, answer_timeout_s=0.5, settle_s=0.1)
    healer.start()
    other = Hj212TcpLink("127.0.0.1", server.port, matcher=DataReplies(fleet.outlets[2].device),
                         logger=DataLogger())
    try:
        started = time.monotonic()
        # A reply with a broken CRC and a reply for no request: refused or ignored.
        silent.sendall(b"##0072QN=1;ST=91;CN=9011;PW=x;MN=y;Flag=4;CP=&&QnRtn=1&&FFFF\r\n")
        for minute in range(15):  # meanwhile another logger's uploads are answered
            assert other.send("", upload(fleet, 2, minute)).wait(10)
            other.serve(0.2)
        elapsed = time.monotonic() - started
        to_silent = [r for r in healer.sent if r.mn == fleet.outlets[1].device]
        assert 1 <= len(to_silent) <= int(elapsed / 1.0) + 1, (len(to_silent), elapsed)
        wait_until(lambda: any(r.outcome == "unanswered" for r in healer.sent),
                   what="the silent logger's request given up")
        assert other.missing == 0
    finally:
        healer.stop()
        other.close()
        silent.close()
