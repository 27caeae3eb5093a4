"""The publisher on fake links and a fake clock, the clocks, and the HJ 212 TCP link."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import orjson
import pytest

from hj212 import decode, encode_frame, encode_reply_9014
from simulators.clocks import Backfill, Paced, realtime
from simulators.hj212 import DataReplies
from simulators.links import Done, Hj212TcpLink, LinkError, Pending
from simulators.malformations import BAD_CRC_REASON
from simulators.payloads import Hj212Frame
from simulators.runner import ScenarioPublisher, phase_ms
from simulators.scenario import OutletSpec
from tests.sim_helpers import COAL, T0, h, incident, scenario


@dataclass
class FakeLink:
    spec: OutletSpec
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    unanswered: list[bytes] = field(default_factory=list)
    reconnects: int = 0
    closed: bool = False

    def send(self, topic: str, payload: bytes, *, answered: bool = True) -> Pending:
        self.sent.append((topic, payload))
        if not answered:
            self.unanswered.append(payload)
        return Done()

    def reconnect(self) -> None:
        self.reconnects += 1

    def close(self) -> None:
        self.closed = True


class Links:
    def __init__(self) -> None:
        self.made: dict[str, FakeLink] = {}

    def __call__(self, spec: OutletSpec) -> FakeLink:
        link = self.made[spec.name] = FakeLink(spec)
        return link


class FakeTime:
    def __init__(self, t: float) -> None:
        self.t = t
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t


class RecordingStop(threading.Event):
    """A stop event whose waits advance a fake clock instead of sleeping."""

    def __init__(self, clock: FakeTime) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.clock.waits.append(timeout)
        self.clock.t += timeout
        return self.is_set()


def test_backfill_sends_every_planned_message_in_time_order_on_its_own_link() -> None:
    sc = scenario(COAL + '[[enterprise]]\nid = "PB"\nindustry = "coal_power"\n'
                  + incident("silence", target="PB", start_h=0, duration_h=0.5)
                  + incident("reconnect_storm", every=20, start_h=0, duration_h=1), hours=1)
    links = Links()
    pub = ScenarioPublisher(sc, links)
    stats = pub.run(Backfill())
    pa, pb = links.made["PA/G1"], links.made["PB/G1"]
    assert (len(pa.sent), len(pb.sent)) == (60, 30)
    assert {t for t, _ in pa.sent} == {"emissions/PA/G1"}
    stamps = [orjson.loads(p)["ts"] for _, p in pa.sent]
    assert stamps == sorted(stamps)
    assert pa.reconnects == 3
    assert (stats.messages, stats.acked, stats.reconnects) == (90, 90, 3)
    pub.close()
    assert pa.closed
    assert pb.closed


def test_paced_clock_waits_for_each_minute_at_the_devices_second() -> None:
    sc = scenario(COAL, hours=1)
    fake = FakeTime(1000.0)
    clock = Paced(60.0, sc.start_ms, wall_origin_s=1000.0, now=fake.now)
    pub = ScenarioPublisher(sc, Links())
    stats = pub.run(clock, stop=RecordingStop(fake))
    assert stats.messages == 60
    first_due = (60_000 + phase_ms(sc.outlets[0])) / 1000 / 60
    assert fake.waits[0] == pytest.approx(first_due)
    assert sum(fake.waits) == pytest.approx((3600_000 + phase_ms(sc.outlets[0])) / 1000 / 60)


def test_a_stop_ends_the_run_early() -> None:
    sc = scenario(COAL, hours=1)
    fake = FakeTime(0.0)
    stop = RecordingStop(fake)
    stop.set()
    stats = ScenarioPublisher(sc, Links()).run(Paced(1.0, sc.start_ms, 0.0, fake.now), stop=stop)
    assert stats.messages == 0


def test_clocks_map_scenario_time_to_wall_time() -> None:
    paced = Paced(10.0, T0, wall_origin_s=500.0)
    assert paced.wall_time(T0 + 60_000) == pytest.approx(506.0)
    rt = realtime(now_s=1234.5)
    assert rt.wall_time(1_234_500 + 2_000) == pytest.approx(1236.5)
    assert Backfill().wait_until(10**15, threading.Event())
    with pytest.raises(ValueError, match="speed"):
        Paced(0.0, T0)


def toy_encoder(frame: Hj212Frame) -> bytes:
    """Stands in for the HJ 212 codec: a well-framed packet with a fixed CRC field."""
    body = f"MN={frame.mn};CN={frame.cn};CP=&&DataTime={frame.data_time:%Y%m%d%H%M%S}&&"
    return f"##{len(body):04d}{body}1C80\r\n".encode()


def test_hj212_outlets_need_an_encoder_and_bad_crc_frames_are_corrupted() -> None:
    body = ('[[enterprise]]\nid = "PA"\nindustry = "coal_power"\n'
            '[[enterprise.outlet]]\nid = "G1"\nprotocol = "hj212"\n'
            + incident("bad_crc", every=30, start_h=0, duration_h=1))
    sc = scenario(body, hours=1)
    with pytest.raises(ValueError, match="encoder"):
        ScenarioPublisher(sc, Links())
    links = Links()
    stats = ScenarioPublisher(sc, links, encoder=toy_encoder).run(Backfill())
    sent = links.made["PA/G1"].sent
    assert {t for t, _ in sent} == {f"hj212/{sc.outlets[0].mn}"}
    crcs = [p[-6:-2] for _, p in sent]
    assert crcs.count(b"E37F") == 2  # minutes 0 and 30, CRC digits flipped
    assert crcs.count(b"1C80") == 58
    assert stats.bad_crc == 2
    assert BAD_CRC_REASON == "bad_crc"


def test_over_tcp_a_bad_crc_frame_goes_unanswered_and_is_sent_again_whole() -> None:
    body = ('[[enterprise]]\nid = "PA"\nindustry = "coal_power"\n'
            '[[enterprise.outlet]]\nid = "G1"\nprotocol = "hj212-tcp"\n'
            + incident("bad_crc", every=30, start_h=0, duration_h=1))
    links = Links()
    stats = ScenarioPublisher(scenario(body, hours=1), links, encoder=toy_encoder).run(Backfill())
    link = links.made["PA/G1"]
    assert len(link.sent) == 62
    assert [p[-6:-2] for p in link.unanswered] == [b"E37F", b"E37F"]
    first = link.sent.index((link.sent[0][0], link.unanswered[0]))
    assert link.sent[first + 1][1][-6:-2] == b"1C80"  # the same frame, whole
    assert link.sent[first + 1][1][:-6] == link.unanswered[0][:-6]
    assert (stats.messages, stats.bad_crc, stats.resent) == (60, 2, 2)


MN = "88888880000001"


def upload(qn: str, mn: str = MN) -> bytes:
    return encode_frame(f"QN={qn};ST=31;CN=2051;PW=pw;MN={mn};Flag=5;CP=&&DataTime=20261123"
                        "000000;a21026-Avg=1.0&&")


@pytest.fixture
def gateway() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP server that answers each upload with a 9014 reply, except uploads of
    QN ...999 (left unanswered) and ...998 (answered with another device's MN)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    got: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            with conn:
                buf = b""
                while chunk := conn.recv(4096):
                    buf += chunk
                    while b"\r\n" in buf:
                        frame, _, buf = buf.partition(b"\r\n")
                        got.append(frame)
                        packet = decode(frame + b"\r\n")
                        if packet.qn and packet.qn.endswith("999"):
                            continue
                        if packet.qn and packet.qn.endswith("998"):
                            packet = replace(packet, mn="other")
                        conn.sendall(encode_reply_9014(packet))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], got
    done.set()
    thread.join(5)
    server.close()


def test_hj212_tcp_link_pairs_replies_with_uploads_and_counts_the_missing_ones(
        gateway: tuple[int, list[bytes]]) -> None:
    port, got = gateway
    link = Hj212TcpLink("127.0.0.1", port, matcher=DataReplies(MN), timeout_s=0.5)
    pending = [link.send("", upload(f"2026112300000{k:04d}")) for k in range(3)]
    assert all(p.wait(5.0) for p in pending)
    assert (link.replies, link.missing, link.bad_replies) == (3, 0, 0)
    link.reconnect()
    quiet = link.send("", upload("20261123000000999"))
    odd = link.send("", upload("20261123000000998"))
    unasked = link.send("", upload("20261123000000997"), answered=False)
    assert unasked.done()
    assert not quiet.wait(0.0)
    assert quiet.wait(5.0)  # given up after the link's 0.5 s time-out
    assert odd.wait(5.0)
    link.close()
    assert len(got) == 6
    assert (link.replies, link.missing, link.bad_replies) == (3, 2, 2)  # 997's reply too


def test_hj212_tcp_link_reports_an_absent_gateway() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LinkError, match="gateway"):
        Hj212TcpLink("127.0.0.1", port, timeout_s=1.0)


def test_minutes_are_stamped_at_their_start() -> None:
    sc = scenario(COAL, hours=1)
    links = Links()
    ScenarioPublisher(sc, links).run(Backfill())
    first = orjson.loads(links.made["PA/G1"].sent[0][1])
    assert first["ts"] == "2026-11-22T16:00:00Z"
    assert orjson.loads(links.made["PA/G1"].sent[-1][1])["ts"] == "2026-11-22T16:59:00Z"
    assert h(1) - h(0) == 3_600_000


def test_the_merged_plan_is_in_time_order_across_outlets() -> None:
    from simulators.plan import plan

    sc = scenario(COAL + '[[enterprise]]\nid = "PB"\nindustry = "boiler"\n', hours=2)
    merged = [(m.ts_ms, m.outlet) for m in plan(sc)]
    assert merged == sorted(merged)
    assert len(merged) == 2 * 120
