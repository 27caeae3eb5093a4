"""Notifications of alerts (alerts.notify) against real servers: a real SMTP server (aiosmtpd),
a local HTTP receiver that checks the bodies and signatures of DingTalk and WeCom robots and of
signed webhooks, InfluxDB for the alerts and the records database (SQLite and PostgreSQL) for
what was decided and sent. One notification per opening and one per close, escalation,
quiet hours, the digest, retries, audit, and delivery at least once across a SIGKILL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.notify.notifier import Notifier
from alerts.notify.settings import NotifySettings
from core.registry import Registry, build_registry
from core.standards import load_standards
from devstack.servers import free_port
from simulators.fleet import build_fleet
from store.audit import AuditQuery, find, verify
from store.influx import InfluxStore
from store.notifications import Recipient, history, replace_recipients
from store.results import Episode, ResultStore
from store.sql import Records
from store.workflow import AlertWorkflows, Note
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "config" / "limits.toml"
HOUR_MS = 3_600_000
MIN_MS = 60_000
# 2025-11-03T10:00:00+08:00: a Monday morning, local time of the tests' registry.
T0 = 1_762_135_200_000
DING_SECRET = "SECtest-robot-secret-0123456789"
HOOK_SECRET = "hook-secret-abcdef"
WECOM_KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    valid: bool
    why: str = ""


@dataclass
class Receiver:
    """A local HTTP server answering like DingTalk and WeCom robots and a webhook receiver,
    and checking what they check: a DingTalk sign within the hour, the WeCom key, the
    webhook's HMAC and timestamp, the body's documented shape."""

    port: int
    now_ms: list[int]
    got: list[Received] = field(default_factory=list)
    hang: threading.Event = field(default_factory=threading.Event)  # set: do not answer
    release: threading.Event = field(default_factory=threading.Event)  # ends the hold
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, path: str, q: dict[str, str], headers: dict[str, str], raw: bytes,
              body: dict[str, Any]) -> str:
        if path == "/dingtalk":
            if q.get("access_token") != "tok":
                return "access_token"
            ts, sign = q.get("timestamp", ""), q.get("sign", "")
            if not ts.isdigit() or abs(int(ts) - self.now_ms[0]) > HOUR_MS:
                return "timestamp"
            mac = hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                           hashlib.sha256).digest()
            if sign != base64.b64encode(mac).decode():  # parse_qs decoded the URL encoding
                return "sign"
            md = body.get("markdown", {})
            if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
                return "body"
        elif path == "/wecom":
            if q.get("key") != WECOM_KEY:
                return "key"
            content = body.get("markdown", {}).get("content", "")
            if body.get("msgtype") != "markdown" or not content:
                return "body"
            if len(content.encode()) > 4096:
                return "too long"
        elif path == "/hook":
            ts = headers.get("x-ems-timestamp", "")
            if not ts.isdigit() or abs(int(ts) - self.now_ms[0]) > 5 * MIN_MS:
                return "timestamp"
            mac = hmac.new(HOOK_SECRET.encode(), f"{ts}.".encode() + raw, hashlib.sha256)
            if headers.get("x-ems-signature") != f"sha256={mac.hexdigest()}":
                return "signature"
            if not body.get("notifications"):
                return "body"
        return ""

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return [g for g in self.got if g.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(free_port(), [T0])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parsed = urllib.parse.urlsplit(self.path)
            q = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = json.loads(raw or b"{}")
            why = rec.check(parsed.path, q, headers, raw, body)
            with rec.lock:
                rec.got.append(Received(parsed.path, q, headers, body, not why, why))
            if rec.hang.is_set():  # hold the request until the test ends
                rec.release.wait(60)
                return
            robot = parsed.path in ("/dingtalk", "/wecom")
            status = 200 if robot or not why else 401
            answer = ({"errcode": 0 if not why else 310000, "errmsg": why or "ok"} if robot
                      else {"ok": not why})
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", rec.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(scope="module")
def registry() -> Registry:
    # E0001 north, E0002 south, E0003 east, E0004 west (the fleet's regions cycle).
    return build_registry(build_fleet(4, outlets_per=1, seed=3).registry,
                          load_standards(LIMITS))


def episode(enterprise: str = "E0001", start_ms: int = T0 - HOUR_MS, severity: str = "high",
            active: bool = True, hours: float = 1, updated_ms: int = T0,
            end_ms: int | None = None, kind: str = "exceedance") -> Episode:
    return Episode(kind, enterprise, "G1", "so2", start_ms, active, hours, updated_ms,
                   end_ms=end_ms, peak_multiple=0.8, peak_value=90.0, severity=severity)


def write(store: InfluxStore, ep: Episode, new: bool = True) -> None:
    ResultStore(store).write_lines([ep.to_line(new)])


def notifier(store: InfluxStore, records: Records, registry: Registry, now: list[int],
             smtp_port: int = 1, **extra: Any) -> Notifier:
    settings = NotifySettings(influx_url=store.url, influx_database=store.database,
                              records_url=records.url, notify_smtp_port=smtp_port,
                              notify_timeout_s=5, **extra)
    return Notifier(settings, records, ResultStore(store, AlertWorkflows(records)), registry,
                    clock=lambda: now[0] / 1000)


def people(records: Records, *rs: Recipient) -> None:
    replace_recipients(records, list(rs), "test", T0)


def test_one_mail_at_the_opening_and_one_at_the_close_never_per_hour(
        store: InfluxStore, records: Records, registry: Registry,
        smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    people(records,
           Recipient("north", "North inspector", "inspector", "email", "north@example.org",
                     regions=("north",)),
           Recipient("e2", "E0002 contact", "enterprise", "email", "e2@example.org",
                     enterprise="E0002"),
           Recipient("lowbar", "Only critical", "inspector", "email", "crit@example.org",
                     min_severity="critical"))
    now = [T0]
    n = notifier(store, records, registry, now, port)
    ep = episode()
    write(store, ep)
    assert n.run_once().sent == 1
    for h in range(1, 4):  # the episode grows hour by hour: nothing more to say
        now[0] = T0 + h * HOUR_MS
        write(store, replace(ep, hours=1 + h, updated_ms=now[0]), new=False)
        assert n.run_once().sent == 0
    now[0] = T0 + 5 * HOUR_MS
    write(store, replace(ep, active=False, hours=4, updated_ms=now[0], end_ms=T0 + 3 * HOUR_MS),
          new=False)
    assert n.run_once().sent == 1
    assert n.run_once().sent == 0
    assert [(to, m["Subject"]) for to, m in box.messages] == [
        (["north@example.org"], "[EMS] exceedance E0001 high opened"),
        (["north@example.org"], "[EMS] exceedance E0001 high closed")]
    assert ep.id in box.messages[0][1].get_payload()
    sent = find(records, AuditQuery(action="notification.sent"), 10)
    assert sorted(e.event.detail or "" for e in sent) == [f"north close {ep.id}",
                                                          f"north open {ep.id}"]
    assert verify(records).ok
    n.close()


def test_robot_formats_and_signatures_are_those_the_services_check(
        store: InfluxStore, records: Records, registry: Registry, receiver: Receiver) -> None:
    people(records,
           Recipient("ding", "DingTalk group", "inspector", "dingtalk",
                     receiver.url("/dingtalk?access_token=tok"), secret=DING_SECRET),
           Recipient("wecom", "WeCom group", "inspector", "wecom",
                     receiver.url(f"/wecom?key={WECOM_KEY}")),
           Recipient("hook", "Department system", "inspector", "webhook",
                     receiver.url("/hook"), secret=HOOK_SECRET))
    n = notifier(store, records, registry, receiver.now_ms)
    write(store, episode())
    assert n.run_once().sent == 3
    for path in ("/dingtalk", "/wecom", "/hook"):
        (got,) = receiver.received(path)
        assert got.valid, (path, got.why)
    hook = receiver.received("/hook")[0].body["notifications"][0]
    assert (hook["event"], hook["alert"]["enterprise"], hook["alert"]["kind"]) == (
        "open", "E0001", "exceedance")
    assert "E0001" in receiver.received("/dingtalk")[0].body["markdown"]["text"]
    n.close()


def test_a_refused_delivery_is_retried_until_taken(
        store: InfluxStore, records: Records, registry: Registry, receiver: Receiver) -> None:
    people(records, Recipient("ding", "DingTalk group", "inspector", "dingtalk",
                              receiver.url("/dingtalk?access_token=tok"), secret="SECwrong"))
    n = notifier(store, records, registry, receiver.now_ms)
    ep = episode()
    write(store, ep)
    assert n.run_once().failed == 1
    assert receiver.received("/dingtalk")[0].why == "sign"
    (h,) = history(records, ep.id)
    assert (h.sent_ms, h.attempts) == (None, 1)
    people(records, Recipient("ding", "DingTalk group", "inspector", "dingtalk",
                              receiver.url("/dingtalk?access_token=tok"), secret=DING_SECRET))
    assert n.run_once().sent == 0  # the retry waits for its backoff
    receiver.now_ms[0] = T0 + 10 * MIN_MS
    assert n.run_once().sent == 1
    assert receiver.received("/dingtalk")[-1].valid
    (h,) = history(records, ep.id)
    assert (h.sent_ms, h.attempts) == (T0 + 10 * MIN_MS, 2)
    n.close()


def test_unacknowledged_alerts_escalate_acknowledged_ones_do_not(
        store: InfluxStore, records: Records, registry: Registry, receiver: Receiver) -> None:
    people(records,
           Recipient("duty", "Duty inspector", "inspector", "webhook", receiver.url("/hook"),
                     secret=HOOK_SECRET),
           Recipient("chief", "Chief inspector", "inspector", "webhook", receiver.url("/hook"),
                     secret=HOOK_SECRET, level=2))
    n = notifier(store, records, registry, receiver.now_ms, notify_escalate_after_min=60)
    left, taken = episode("E0001"), episode("E0002")
    write(store, left)
    write(store, taken)
    assert n.run_once().sent == 2  # the duty inspector hears of both
    AlertWorkflows(records).move(taken.id, "E0002", "acknowledged",
                                 Note(T0 + 10 * MIN_MS, "inspector:x", "acknowledged", "on it"))
    receiver.now_ms[0] = T0 + 59 * MIN_MS
    assert n.run_once().sent == 0
    receiver.now_ms[0] = T0 + 61 * MIN_MS
    assert n.run_once().sent == 1
    assert [(h.alert_id, h.event, h.recipient_id) for h in history(records)
            if h.recipient_id == "chief"] == [(left.id, "escalate", "chief")]
    bodies = [g.body["notifications"][0] for g in receiver.received("/hook")]
    assert [(b["event"], b["alert"]["enterprise"]) for b in bodies][-1] == ("escalate", "E0001")
    assert all(g.valid for g in receiver.received("/hook"))
    n.close()


def test_quiet_hours_hold_all_but_critical_and_low_ones_go_in_one_digest(
        store: InfluxStore, records: Records, registry: Registry,
        smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    people(records, Recipient("night", "Night-quiet inspector", "inspector", "email",
                              "n@example.org", quiet="22:00-07:00", digest=True))
    night = T0 + 13 * HOUR_MS  # 23:00 local
    now = [night]
    n = notifier(store, records, registry, now, port, notify_digest_hour=8)
    high = episode("E0001", start_ms=night - HOUR_MS, updated_ms=night)
    critical = episode("E0002", start_ms=night - HOUR_MS, updated_ms=night,
                       severity="critical")
    lows = [episode(e, start_ms=night - HOUR_MS, updated_ms=night, severity="low",
                    kind="data_gap") for e in ("E0003", "E0004")]
    for ep in (high, critical, *lows):
        write(store, ep)
    assert n.run_once().sent == 1
    assert [m["Subject"] for _, m in box.messages] == ["[EMS] exceedance E0002 critical opened"]
    now[0] = night + 7 * HOUR_MS + MIN_MS  # 06:01: still quiet
    assert n.run_once().sent == 0
    now[0] = night + 8 * HOUR_MS  # 07:00: quiet hours over
    assert n.run_once().sent == 1
    assert box.messages[-1][1]["Subject"] == "[EMS] exceedance E0001 high opened"
    now[0] = night + 9 * HOUR_MS  # 08:00: the digest of both low alerts, in one message
    assert n.run_once().sent == 2
    digest = box.messages[-1][1]
    assert digest["Subject"] == "[EMS] 2 alert notifications"
    assert all(ep.id in digest.get_payload() for ep in lows)
    assert len(box.messages) == 3
    n.close()


def test_a_notification_decided_is_sent_after_a_sigkill(
        store: InfluxStore, records: Records, registry: Registry, receiver: Receiver,
        tmp_path: Path) -> None:
    """The notifier is killed while the receiver holds its request; the next one sends it."""
    people(records, Recipient("hook", "Department system", "inspector", "webhook",
                              receiver.url("/hook"), secret=HOOK_SECRET))
    fleet = build_fleet(4, outlets_per=1, seed=3)
    fleet.write(tmp_path / "registry.toml", tmp_path / "secrets.toml")
    ep = episode()
    write(store, ep)
    receiver.hang.set()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    env.update({"EMS_INFLUX_URL": store.url, "EMS_INFLUX_DATABASE": store.database,
                "EMS_RECORDS_URL": records.url,
                "EMS_REGISTRY_PATH": str(tmp_path / "registry.toml"),
                "EMS_LIMITS_PATH": str(LIMITS), "EMS_NOTIFY_TIMEOUT_S": "60",
                "EMS_CLOCK_OFFSET_S": str(T0 / 1000 - time.time())})
    with (tmp_path / "notify.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "alerts.notify", "once"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: receiver.received("/hook"), 60, what="the notifier's request")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    (h,) = history(records, ep.id)
    assert h.sent_ms is None  # decided, not stamped: the kill came first
    receiver.hang.clear()
    receiver.now_ms[0] = T0 + MIN_MS  # the killed process decided it at its own now
    n = notifier(store, records, registry, receiver.now_ms)
    assert n.run_once().sent == 1
    got = receiver.received("/hook")
    assert len(got) == 2  # at least once: the killed attempt and the one that was answered
    assert all(g.valid for g in got)
    assert history(records, ep.id)[0].sent_ms == T0 + MIN_MS
    n.close()
