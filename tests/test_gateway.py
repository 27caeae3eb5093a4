"""The HJ 212 TCP gateway end to end: simulated devices over TCP, real Mosquitto and InfluxDB,
``python -m ingest.gateway`` and ``python -m ingest`` as processes."""

from __future__ import annotations

import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest

from devstack.servers import Mosquitto, free_port
from hj212 import Packet, decode, encode_data, encode_frame, encode_states
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.conftest import SERVICE_NOW, ServiceProcs, start_ready, wait_until

pytestmark = pytest.mark.slow  # gateway and ingester processes

T0 = SERVICE_NOW - timedelta(hours=3)


class Device:
    """A data-acquisition unit: a plain TCP socket."""

    def __init__(self, port: int, timeout_s: float = 15.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.timeout_s = timeout_s
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def replies(self, n: int, timeout_s: float | None = None) -> list[Packet]:
        """The next ``n`` replies (frames end with CR LF); fails after the deadline."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while self.buf.count(b"\r\n") < n:
            left = deadline - time.monotonic()
            if left <= 0:
                got = self.buf.count(b"\r\n")
                pytest.fail(f"{got} of {n} replies before the deadline")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            assert data, "the gateway closed the connection"
            self.buf += data
        *frames, self.buf = self.buf.split(b"\r\n", n)
        return [decode(f + b"\r\n") for f in frames]

    def nothing_within(self, seconds: float) -> bool:
        """True if no byte arrives for ``seconds`` (and the connection stays open)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        self.buf += data
        return False

    def closed_within(self, seconds: float) -> bool:
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(65536) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def reset(self) -> None:
        """Close abruptly (RST), as a device losing power or signal."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


Connect = Callable[..., Device]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Opens device connections; closes whatever is left open at the end of the test."""
    opened: list[Device] = []

    def make(port: int, timeout_s: float = 15.0) -> Device:
        device = Device(port, timeout_s)
        opened.append(device)
        return device

    yield make
    for device in opened:
        device.close()


def upload(fleet: Fleet, i: int, minute: int, *, cn: str = "2051", flag: int = 5,
           **kw: object) -> bytes:
    sim = fleet.outlets[i]
    values = {k: round(v + minute * 0.001, 4) for k, v in sim.levels.items()}
    args: dict[str, object] = {"cn": cn, "mn": sim.device, "pw": fleet.passwords[sim.device],
                               "data_time": T0 + timedelta(minutes=minute), "flag": flag}
    args.update(kw)
    return encode_data(values, **args)  # type: ignore[arg-type]


def qn_of(frame: bytes) -> str | None:
    return decode(frame).qn


def start_gateway(services: ServiceProcs, port: int, ingester: bool = True,
                  **env: str) -> None:
    if ingester:
        start_ready(services, "ingest", "ingest")
    start_ready(services, "ingest.gateway", "gateway", EMS_GATEWAY_PORT=str(port), **env)


def metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def n_values(fleet: Fleet, i: int) -> int:
    return len(fleet.outlets[i].levels)


def test_device_gets_its_replies_and_its_readings_reach_influxdb(
        services: ServiceProcs, store: InfluxStore, fleet: Fleet, connect: Connect) -> None:
    port = free_port()
    start_gateway(services, port)
    device = connect(port)
    frames = [upload(fleet, 0, m) for m in range(5)]
    for f in frames:  # one at a time, as a unit waiting for each acknowledgement
        device.send(f)
        (reply,) = device.replies(1)
        assert (reply.cn, reply.st, reply.flag, reply.mn, reply.qn) == (
            "9014", "91", 4, fleet.outlets[0].device, qn_of(f))
    hourly = upload(fleet, 0, 0, cn="2061", qn="20990101000000001")
    bad = upload(fleet, 0, 10, flags={"so2": "X"})  # forwarded; the ingester rejects one value
    no_ack = upload(fleet, 0, 11, flag=4)
    sim = fleet.outlets[0]
    heartbeat = encode_frame(f"QN=20990101000000002;ST=31;CN=9015;PW={fleet.passwords[sim.device]}"
                             f";MN={sim.device};Flag=5;CP=&&&&")  # HJ 212-2025: consumed here
    state = encode_states({"SB1": 1}, mn=sim.device, pw=fleet.passwords[sim.device],
                          data_time=T0, qn="20990101000000003", flag=5)  # CN 2021
    device.send(heartbeat + hourly + bad + no_ack + state)
    assert [r.qn for r in device.replies(3)] == ["20990101000000001", qn_of(bad),
                                                 "20990101000000003"]
    n = n_values(fleet, 0)
    wait_until(lambda: store.count("reading") == 5 * n + (n - 1) + n, what="readings stored")
    wait_until(lambda: store.count("device_aggregate") == n, what="hourly aggregates stored")
    wait_until(lambda: store.count("running_state") == 1, what="the running state stored")
    (running,) = store.query("SELECT * FROM running_state")[0].rows()
    assert (running["time"], running["facility"], running["state"], running["outlet"]) == (
        int(T0.timestamp() * 1000), "SB1", 1, sim.outlet)
    rows = store.query("SELECT * FROM reading WHERE time = "
                       f"{int((T0 + timedelta(minutes=3)).timestamp() * 1e9)}")[0].rows()
    assert {r["pollutant"]: r["value"] for r in rows} == {
        k: round(v + 0.003, 4) for k, v in sim.levels.items()}
    assert {(r["enterprise"], r["outlet"], r["flag"]) for r in rows} == {
        (sim.enterprise, sim.outlet, "N")}
    rejected = store.query("SELECT * FROM rejection")[0].rows()
    assert [(r["reason"], r["pollutant"], r["source"]) for r in rejected] == [
        ("bad_flag", "so2", "mqtt-hj212")]
    assert fleet.passwords[sim.device] not in rejected[0]["payload"]
    assert device.nothing_within(0.5), "no reply to a frame that asked for none"
    device.close()


def test_bad_input_on_some_connections_disturbs_no_other(
        services: ServiceProcs, store: InfluxStore, fleet: Fleet, connect: Connect) -> None:
    port, metrics_port = free_port(), free_port()
    start_gateway(services, port, EMS_GATEWAY_IDLE_TIMEOUT_S="2",
                  EMS_GATEWAY_MAX_FRAME_BYTES="2000",
                  EMS_GATEWAY_METRICS_PORT=str(metrics_port))
    steady = connect(port)
    steady_sent: list[bytes] = []
    steady_done = threading.Event()
    steady_errors: list[BaseException] = []

    def steady_device() -> None:  # device 0 uploads throughout, one frame at a time
        try:
            minute = 0
            while not steady_done.is_set() or minute < 3:
                f = upload(fleet, 0, minute)
                steady.send(f)
                (reply,) = steady.replies(1)
                assert reply.qn == qn_of(f)
                steady_sent.append(f)
                minute += 1
                time.sleep(0.1)  # the device's pace, not a wait for a condition
        except BaseException as exc:  # noqa: BLE001 (re-raised by the test thread)
            steady_errors.append(exc)

    runner = threading.Thread(target=steady_device)
    runner.start()
    try:
        # Garbage, then a good frame on the same connection: resynchronised and answered.
        noisy = connect(port)
        noisy.send(b"AT+CSQ\r\n\x00\xff\xfe##abcd#" + bytes(range(256)).replace(b"#", b""))
        good = upload(fleet, 1, 0)
        noisy.send(good)
        assert [r.qn for r in noisy.replies(1)] == [qn_of(good)]
        noisy.close()
        # A slow sender, one byte at a time.
        slow = connect(port)
        slow_frame = upload(fleet, 2, 0)
        for i in range(len(slow_frame)):
            slow.send(slow_frame[i : i + 1])
            time.sleep(0.002)
        assert [r.qn for r in slow.replies(1)] == [qn_of(slow_frame)]
        slow.close()
        # Two frames in one send.
        pair = connect(port)
        two = [upload(fleet, 3, 0), upload(fleet, 3, 1)]
        pair.send(b"".join(two))
        assert [r.qn for r in pair.replies(2)] == [qn_of(f) for f in two]
        pair.close()
        # Refused frames get no answer: the only reply is the good frame's, sent after them.
        refused = connect(port)
        bad_crc = upload(fleet, 4, 0)
        bad_crc = bad_crc[:-6] + (b"0000" if bad_crc[-6:-2] != b"0000" else b"1111") + b"\r\n"
        wrong_pw = upload(fleet, 4, 1, pw="guess")
        unknown = upload(fleet, 4, 2, mn="99999999999999")
        oversize = encode_frame("QN=1;ST=31;CN=2011;PW=x;MN=y;Flag=5;CP=&&"
                                + "a21026-Rtd=1;" * 200 + "&&")
        after = upload(fleet, 4, 3)
        refused.send(bad_crc + wrong_pw + unknown + oversize + after)
        assert [r.qn for r in refused.replies(1)] == [qn_of(after)]
        refused.close()
        # An abrupt disconnect in the middle of a frame.
        cut = connect(port)
        cut.send(upload(fleet, 5, 0)[:60])
        cut.reset()
        # An idle connection is closed after the idle time-out (2 s), not before.
        idle = connect(port)
        opened = time.monotonic()
        assert idle.closed_within(10), "idle connection not closed"
        assert time.monotonic() - opened > 1.5
    finally:
        steady_done.set()
        runner.join(60)
    assert not steady_errors, steady_errors
    assert not runner.is_alive()
    counts = {0: len(steady_sent), 1: 1, 2: 1, 3: 2, 4: 1}
    expected = sum(n * n_values(fleet, i) for i, n in counts.items())
    wait_until(lambda: store.count("reading") == expected, what="every accepted reading")
    outlets = {s.tags["outlet"] + s.tags["enterprise"] for s in store.query(
        'SELECT count("value") FROM reading GROUP BY "enterprise", "outlet"')}
    assert outlets == {fleet.outlets[i].outlet + fleet.outlets[i].enterprise for i in counts}
    # Refused frames never reached the broker; the gateway stored them as rejections, of the
    # device's enterprise when their MN is a registered device, with the password masked.
    sim = fleet.outlets[4]

    def refused_rows() -> dict[str, dict[str, object]]:
        return {str(r["reason"]): r for r in store.query("SELECT * FROM rejection")[0].rows()}

    wait_until(lambda: {"bad_crc", "bad_password", "unknown_device"} <= set(refused_rows()),
               what="refused frames stored as rejections")
    rows = refused_rows()
    assert {k: (r.get("enterprise"), r["topic"]) for k, r in rows.items()
            if k in ("bad_crc", "bad_password", "unknown_device")} == {
        "bad_crc": (sim.enterprise, f"hj212/{sim.device}"),
        "bad_password": (sim.enterprise, f"hj212/{sim.device}"),
        "unknown_device": (None, "hj212/99999999999999")}
    assert {r["source"] for r in rows.values()} == {"hj212-tcp"}
    assert "wrong access password" in str(rows["bad_password"]["detail"])
    for r in rows.values():
        assert "PW=***" in str(r["payload"]) or "PW=" not in str(r["payload"])
        assert fleet.passwords[sim.device] not in str(r["payload"])
        assert "guess" not in str(r["payload"])
    assert metric(metrics_port, "gateway_rejections_stored_total") >= 3
    assert metric(metrics_port, "gateway_crc_failures_total") == 1
    assert metric(metrics_port, "gateway_password_failures_total") == 1
    assert metric(metrics_port, "gateway_unknown_devices_total") == 1
    assert metric(metrics_port, "gateway_oversize_frames_total") == 1
    assert metric(metrics_port, "gateway_acked_total") == len(steady_sent) + 5
    closed = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    for why, n in (("eof", 4), ("idle", 1), ("error", 1)):
        assert f'gateway_connections_closed_total{{why="{why}"}} {n}.0' in closed
    assert services.procs[1].poll() is None, "the gateway must survive"


def test_no_reply_until_the_broker_has_a_subscriber(
        services: ServiceProcs, store: InfluxStore, fleet: Fleet, connect: Connect) -> None:
    port = free_port()
    start_gateway(services, port, ingester=False, EMS_GATEWAY_PUBLISH_TIMEOUT_S="1")
    device = connect(port)
    frame = upload(fleet, 0, 0)
    device.send(frame)
    assert device.nothing_within(2.5), "answered although nobody took the frame"
    assert "no subscriber for hj212/#" in services.log("gateway")
    start_ready(services, "ingest", "ingest")
    device.send(frame)  # the device's retry
    assert [r.qn for r in device.replies(1)] == [qn_of(frame)]
    wait_until(lambda: store.count("reading") == n_values(fleet, 0), what="readings")
    device.close()


def test_many_devices_at_once(services: ServiceProcs, store: InfluxStore, fleet: Fleet,
                              connect: Connect) -> None:
    port = free_port()
    start_gateway(services, port)
    minutes = 30
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            device = connect(port, timeout_s=60)
            frames = [upload(fleet, i, m) for m in range(minutes)]
            device.send(b"".join(frames))  # a unit sending its backlog after a link outage
            assert [r.qn for r in device.replies(minutes)] == [qn_of(f) for f in frames]
            device.close()
        except BaseException as exc:  # noqa: BLE001 (re-raised by the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fleet.outlets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    expected = minutes * sum(n_values(fleet, i) for i in range(len(fleet.outlets)))
    wait_until(lambda: store.count("reading") == expected, timeout_s=60, what="all readings")


def test_no_reply_when_the_broker_does_not_acknowledge_in_time(
        services: ServiceProcs, store: InfluxStore, fleet: Fleet, broker: Mosquitto,
        connect: Connect) -> None:
    port = free_port()
    start_gateway(services, port, EMS_GATEWAY_PUBLISH_TIMEOUT_S="1")
    device = connect(port)
    frame = upload(fleet, 0, 0)
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)  # the broker hangs: no PUBACK comes
    try:
        device.send(frame)
        assert device.nothing_within(2.5), "answered before the broker acknowledged"
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    device.send(frame)  # the device's retry after its own time-out
    assert [r.qn for r in device.replies(1)] == [qn_of(frame)]
    # The first copy reached the broker late and was stored too: the copies overwrite.
    wait_until(lambda: store.count("reading") == n_values(fleet, 0), what="readings")
    assert "not confirmed by the broker" in services.log("gateway")


def test_connections_beyond_the_maximum_are_closed_at_once(
        services: ServiceProcs, store: InfluxStore, fleet: Fleet, connect: Connect) -> None:  # noqa: ARG001 (store: for its side effect)
    port = free_port()
    start_gateway(services, port, EMS_GATEWAY_MAX_CONNECTIONS="3")
    held = [connect(port) for _ in range(3)]
    frame = upload(fleet, 0, 0)
    held[0].send(frame)  # all three are being served
    assert [r.qn for r in held[0].replies(1)] == [qn_of(frame)]
    extra = connect(port)
    assert extra.closed_within(5), "a fourth connection was kept"
    for device in held[1:]:
        device.send(frame)
        assert [r.qn for r in device.replies(1)] == [qn_of(frame)]
    held[0].close()

    def accepted_again() -> bool:
        probe = connect(port)
        try:
            probe.send(frame)
            return bool(probe.replies(1, timeout_s=2))
        except (AssertionError, OSError, pytest.fail.Exception):  # closed: still full
            return False

    wait_until(accepted_again, what="a connection accepted once one was closed")
    assert "refused: 3 connections open" in services.log("gateway")
