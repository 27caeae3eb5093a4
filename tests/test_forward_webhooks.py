"""Signed webhooks against a local HTTP receiver that checks the signature and the timestamp:
judged hours and alerts, retried on 5xx, sent again only when they changed (an alert: when it
opens, closes or its workflow moves, not each hour the scheduler extends it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from core.registry import load_registry
from core.standards import load_standards
from devstack.servers import InfluxDB
from forward.app import build_worker, secrets_of
from forward.links import LinkDown, sign
from forward.service import Worker
from simulators.fleet import Fleet
from store.results import Episode, HourVerdict, ResultStore
from store.sql import Records
from store.workflow import AlertWorkflows, Note
from tests.conftest import SERVICE_NOW_MS, wait_until
from tests.test_forward import City, city_of, forward_settings

HOUR_MS = 3_600_000


@pytest.fixture
def city(influx_server: InfluxDB, tmp_path: Path, fleet: Fleet) -> Iterator[City]:
    yield from city_of(influx_server, tmp_path, fleet)


class Receiver(ThreadingHTTPServer):
    secret = b""
    bodies: list[dict[str, Any]]
    refused: int = 0
    fail_first: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = int(self.headers["X-EMS-Timestamp"])
        want = "sha256=" + hmac.new(self.server.secret, f"{ts}.".encode() + body,
                                    hashlib.sha256).hexdigest()
        fresh = abs(ts - SERVICE_NOW_MS / 1000) < 300  # the sender's (shifted) clock
        if not hmac.compare_digest(want, self.headers["X-EMS-Signature"]) or not fresh:
            self.server.refused += 1
            self.send_response(401)
        elif self.server.fail_first > 0:
            self.server.fail_first -= 1
            self.send_response(503)
        else:
            self.server.bodies.append(json.loads(body))
            self.send_response(204)
        self.end_headers()


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    want = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign(b"k", 1_700_000_000, b"{}") == f"sha256={want}"


def test_judged_hours_go_to_a_webhook_signed_and_retried(
        tmp_path: Path, city: City, fleet: Fleet) -> None:
    receiver = Receiver(("127.0.0.1", 0), _Handler)
    receiver.secret, receiver.bodies, receiver.fail_first = b"s3cret", [], 2
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    registry = dict(fleet.registry)
    registry["destination"] = [{"id": "ecology", "kind": "webhook",
                                "url": f"http://127.0.0.1:{receiver.server_port}/hook",
                                "secret_env": "EMS_FWD_SECRET", "commands": ["hour"]}]
    city.registry_path.write_bytes(tomli_w.dumps(registry).encode())
    hour0 = SERVICE_NOW_MS - SERVICE_NOW_MS % HOUR_MS - 3 * HOUR_MS
    sims = fleet.outlets[:3]
    results = ResultStore(city.store)
    results.write_lines([HourVerdict(s.enterprise, s.outlet, "so2", hour0 + h * HOUR_MS,
                                        60, 58, True, True, mean=10.0 + h, mean_ref=12.0 + h
                                        ).to_line() for s in sims for h in range(3)])
    city.env["EMS_FWD_SECRET"] = "s3cret"
    settings = forward_settings(city, tmp_path)
    reg = load_registry(city.registry_path, load_standards(settings.limits_path))
    worker = build_worker(reg.destinations["ecology"], settings, reg, city.store,
                          secrets_of(reg, city.env))
    worker.start()
    try:
        wait_until(lambda: len(receiver.bodies) == 9, 30, 0.1, "nine judged hours delivered")
        assert receiver.refused == 0
        got = {(b["enterprise"], b["outlet"], b["start"], b["pollutants"]["so2"]["mean"])
               for b in receiver.bodies}
        assert len(got) == 9
        # A re-judged hour goes again; an unchanged one does not.
        s = sims[0]
        results.write_lines([HourVerdict(s.enterprise, s.outlet, "so2", hour0, 60, 60,
                                            True, True, mean=99.0, mean_ref=99.5).to_line()])
        wait_until(lambda: len(receiver.bodies) == 10, 30, 0.1, "the re-judged hour")
        assert receiver.bodies[-1]["pollutants"]["so2"]["mean"] == 99.0
        # The receiver holds a body before its 2xx reaches the sender, which acknowledges then.
        wait_until(lambda: worker.queue.backlog()[0] == 0, 10, 0.05, "the last 2xx acknowledged")
    finally:
        worker.stop()
        receiver.shutdown()
        receiver.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.secret, server.bodies = b"s3cret", []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def webhook_worker(city: City, fleet: Fleet, tmp_path: Path, receiver: Receiver,
                   secret: str = "s3cret", workflows: AlertWorkflows | None = None,
                   **entry: Any) -> Worker:
    registry = dict(fleet.registry)
    registry["destination"] = [{"id": "ecology", "kind": "webhook",
                                "url": f"http://127.0.0.1:{receiver.server_port}/hook",
                                "secret_env": "EMS_FWD_SECRET", **entry}]
    city.registry_path.write_bytes(tomli_w.dumps(registry).encode())
    city.env["EMS_FWD_SECRET"] = secret
    settings = forward_settings(city, tmp_path)
    reg = load_registry(city.registry_path, load_standards(settings.limits_path))
    return build_worker(reg.destinations["ecology"], settings, reg, city.store,
                        secrets_of(reg, city.env), workflows)


def test_alerts_go_to_a_webhook_when_they_open_and_when_they_change(
        tmp_path: Path, city: City, fleet: Fleet, receiver: Receiver, records: Records) -> None:
    mine, other = fleet.outlets[0], next(s for s in fleet.outlets
                                         if s.enterprise != fleet.outlets[0].enterprise)
    workflows = AlertWorkflows(records)
    worker = webhook_worker(city, fleet, tmp_path, receiver, workflows=workflows,
                            commands=["alert"],
                            enterprises=[mine.enterprise])
    results = ResultStore(city.store)
    start = SERVICE_NOW_MS - SERVICE_NOW_MS % HOUR_MS - 2 * HOUR_MS

    def episode(sim: Any, active: bool, hours: float, peak: float = 1.8) -> Episode:
        return Episode("exceedance", sim.enterprise, sim.outlet, "so2", start, active, hours,
                       updated_ms=start + round(hours * HOUR_MS), peak_multiple=peak,
                       severity="high", end_ms=None if active else start + 3 * HOUR_MS)

    try:
        results.write_lines([episode(mine, True, 1).to_line(new=True),
                             episode(other, True, 1).to_line(new=True)])
        assert worker.poll_once() == 1  # only the destination's enterprises
        assert worker.send_once() == 1
        [opened] = receiver.bodies
        assert (opened["type"], opened["enterprise"], opened["kind"], opened["active"]) == (
            "alert", mine.enterprise, "exceedance", True)
        assert opened["end_ms"] is None
        assert opened["severity"] == "high"
        assert opened["status"] == "open"
        assert worker.poll_once() == 0  # unchanged: not again
        # The scheduler extends the open episode by an hour (updated_ms, hours, peak move):
        # still the same open alert, not sent again.
        results.write_lines([episode(mine, True, 2, peak=2.4).to_line(new=False)])
        assert worker.poll_once() == 0
        # Its workflow moves: sent, with the new status.
        workflows.move(opened["id"], mine.enterprise, "acknowledged",
                       Note(start + 2 * HOUR_MS, "inspector", "acknowledge", "on it"))
        assert worker.poll_once() == 1
        assert worker.send_once() == 1
        acked = receiver.bodies[-1]
        assert (acked["id"], acked["status"], acked["active"]) == (
            opened["id"], "acknowledged", True)
        assert acked["peak_multiple"] == 2.4
        assert worker.poll_once() == 0
        # It closes: sent once more.
        results.write_lines([episode(mine, False, 3).to_line(new=False)])
        assert worker.poll_once() == 1
        assert worker.send_once() == 1
        closed = receiver.bodies[-1]
        assert (closed["id"], closed["active"], closed["end_ms"]) == (
            opened["id"], False, start + 3 * HOUR_MS)
        assert worker.poll_once() == 0
        assert len(receiver.bodies) == 3
        assert receiver.refused == 0
        assert worker.queue.backlog() == (0, None)
    finally:
        worker.stop()


def test_a_webhook_refusing_the_signature_keeps_the_alert_queued(
        tmp_path: Path, city: City, fleet: Fleet, receiver: Receiver) -> None:
    sim = fleet.outlets[0]
    worker = webhook_worker(city, fleet, tmp_path, receiver, secret="not-the-receivers",
                            commands=["alert"])
    start = SERVICE_NOW_MS - SERVICE_NOW_MS % HOUR_MS - HOUR_MS
    ResultStore(city.store).write_lines([Episode(
        "data_gap", sim.enterprise, sim.outlet, "", start, True, 1.0,
        updated_ms=start + HOUR_MS).to_line(new=True)])
    try:
        assert worker.poll_once() == 1
        with pytest.raises(LinkDown, match="refused"):
            worker.send_once()
        assert receiver.refused == 1
        assert receiver.bodies == []
        assert worker.queue.backlog()[0] == 1  # kept for the operator to fix the secret
    finally:
        worker.stop()
