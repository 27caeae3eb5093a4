"""One message must not stop ingestion (issue 11, finding 3): real Mosquitto, InfluxDB and
ingester processes; the callback guard and the watchdog."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.readings import Parsed
from core.registry import load_registry
from core.standards import load_standards
from devstack.servers import Mosquitto, free_port
from ingest import metrics
from ingest.service import Ingester
from ingest.settings import IngestSettings
from ingest.subscriber import Subscriber
from ops.healthcheck import check
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.conftest import (
    ROOT,
    SERVICE_NOW_MS,
    Publisher,
    ServiceProcs,
    ready_url,
    start_ready,
    wait_ready,
    wait_until,
)

T0_MS = SERVICE_NOW_MS - 600 * 60_000  # ten hours before: inside the accepted window
DEEP = b"[" * 5000


def readings(fleet: Fleet, start: int, n: int) -> list[tuple[str, bytes]]:
    sim = fleet.outlets[0]
    return [(f"emissions/{sim.enterprise}/{sim.outlet}", json.dumps(
        {"ts": T0_MS + i * 1000, "device": sim.device, "values": {"so2": 1.0 + i}}).encode())
        for i in range(start, start + n)]


def rejections(store: InfluxStore) -> list[dict[str, object]]:
    return [r for s in store.query("SELECT * FROM rejection") for r in s.rows()]


@pytest.mark.slow
def test_deep_nesting_then_1000_readings_all_stored_also_across_a_restart(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    sim = fleet.outlets[0]
    topic = f"emissions/{sim.enterprise}/{sim.outlet}"
    first = start_ready(services, "ingest", "ingest")
    publisher.publish_all([(topic, DEEP), *readings(fleet, 0, 500)])
    wait_until(lambda: store.count("reading") == 500, 30, what="500 readings after the bomb")
    wait_until(lambda: len(rejections(store)) == 1, 10, what="the bomb's rejection")
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    # While the ingester is away the broker keeps the next bomb and readings for its session.
    hostile = [(topic, DEEP), (topic, b"\x00\xff\xfe{\"ts\": \x00"),
               (f"hj212/{sim.device}", DEEP)]
    publisher.publish_all([*hostile, *readings(fleet, 500, 500)])
    services.start("ingest", "ingest-restarted")
    wait_until(lambda: store.count("reading") == 1000, 30, what="all 1,000 readings")
    wait_until(lambda: len(rejections(store)) == 4, 10, what="the four rejections")
    rows = rejections(store)
    assert sorted(str(r["reason"]) for r in rows) == [
        "malformed_json", "malformed_json", "malformed_json", "no_header"]
    assert {r["enterprise"] for r in rows} == {sim.enterprise}
    assert services.procs[1].poll() is None, "the ingester must live on"
    services.stop_all()
    assert store.count("reading") == 1000
    assert len(rejections(store)) == 4  # each acknowledged once stored: none came back


def test_a_failing_callback_is_counted_and_the_loop_goes_on(
        session_broker: Mosquitto, session_publisher: Publisher, topic_prefix: str) -> None:
    got: list[bytes] = []

    def handler(_topic: str, payload: bytes, _qos: int, _mid: int) -> None:
        if payload == b"boom":
            raise RuntimeError("a bug in the handler")
        got.append(payload)

    before = metrics.CALLBACK_ERRORS.labels("RuntimeError")._value.get()
    sub = Subscriber(host="127.0.0.1", port=session_broker.port,
                     client_id=f"guard-{topic_prefix}", topics=[f"{topic_prefix}/emissions/#"],
                     handler=handler, receive_maximum=100, session_expiry_s=60)
    sub.start()
    try:
        wait_until(sub.subscribed.is_set, 10, what="the subscription")
        topic = f"{topic_prefix}/emissions/E/G"
        session_publisher.publish_all([(topic, b"boom"), (topic, b"boom"),
                                       *[(topic, b"ok%d" % i) for i in range(10)]])
        wait_until(lambda: len(got) == 10, 10, what="the messages after the failures")
        assert sub.guard.errors == 2
        assert sub.problem() is None
        assert metrics.CALLBACK_ERRORS.labels("RuntimeError")._value.get() == before + 2
    finally:
        sub.stop()


def test_a_raising_parser_becomes_a_stored_rejection(broker: Mosquitto, publisher: Publisher,
                                                     store: InfluxStore, tmp_path: Path,
                                                     fleet: Fleet) -> None:
    settings = IngestSettings(mqtt_port=broker.port, influx_url=store.url,
                              influx_database=store.database,
                              registry_path=tmp_path / "registry.toml",
                              ingest_client_id="parser-bug", ingest_batch_max_wait_s=0.05)
    registry = load_registry(settings.registry_path,
                             load_standards(ROOT / "config" / "limits.toml"))

    def broken(_topic: str, _payload: bytes, _now_ms: int) -> Parsed:
        raise RecursionError("maximum recursion depth exceeded")

    ingester = Ingester(settings, registry, store, extra_parsers={"emissions": broken})
    ingester.start()
    try:
        wait_until(ingester.subscriber.subscribed.is_set, 10, what="the subscription")
        publisher.publish_all([("emissions/E0001/G1", b"PW=secret;[[[")])
        rows = wait_until(lambda: rejections(store), 20, what="the parser_error rejection")
        assert rows[0]["reason"] == "parser_error"
        assert "RecursionError" in str(rows[0]["detail"])
        assert rows[0]["payload"] == "PW=***;[[["
    finally:
        ingester.stop()


INJECT = """
import sys, time
import ingest.service
from ingest.__main__ import main

class Escape(BaseException):
    '''Not an Exception: passes every guard, as a bug in a C extension or paho would.'''

def handle(self, topic, payload, qos, mid):
    if sys.argv[1] == "die":
        raise Escape("the network thread ends here")
    time.sleep(3600)  # a callback that never returns

ingest.service.Ingester.handle = handle
sys.exit(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "said"), [
    ("die", "the MQTT network thread has ended"),
    ("hang", "an MQTT callback has been running for"),
])
def test_the_watchdog_exits_an_ingester_that_can_take_no_more_messages(
        services: ServiceProcs, publisher: Publisher, fleet: Fleet, mode: str,
        said: str) -> None:
    port = free_port()
    env = {**services.env, "EMS_INGEST_METRICS_PORT": str(port),
           "EMS_INGEST_CALLBACK_STUCK_S": "2"}
    log_path = services.tmp / "ingest.log"
    with log_path.open("ab") as logf:
        proc = subprocess.Popen([sys.executable, "-c", INJECT, mode], cwd=ROOT, env=env,
                                stdout=logf, stderr=subprocess.STDOUT)
    services.procs.append(proc)
    wait_ready(port, proc=proc, what="the ingester subscribed")
    url = ready_url(port)
    publisher.publish_all(readings(fleet, 0, 1))
    wait_until(lambda: proc.poll() is not None, 30, what="the watchdog to end the process")
    assert proc.returncode == 1
    assert said in services.log("ingest")
    assert check([url]), "the health check fails once the process is gone"
