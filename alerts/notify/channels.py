"""How a notification reaches a recipient: e-mail (SMTP), a webhook (JSON, signed), and the
robot webhooks of DingTalk and WeCom in the formats they document.

- webhook: ``POST`` of ``{"notifications": [...]}``; with a secret, ``X-EMS-Timestamp`` (epoch
  ms) and ``X-EMS-Signature: sha256=<hex>``, the HMAC-SHA256 with the secret of
  ``"<timestamp>.<body>"`` (the receiver rejects an old timestamp: no replay).
- DingTalk custom robot: ``msgtype`` markdown (``title``, ``text``); with the robot's secret
  ("加签"), ``timestamp`` (epoch ms) and ``sign`` are added to the URL: the HMAC-SHA256 with the
  secret of ``"<timestamp>\\n<secret>"``, Base64 then URL-encoded. The answer's ``errcode``
  must be 0.
- WeCom group robot: ``msgtype`` markdown (``content``, at most 4096 bytes); its URL carries
  the robot's key. The answer's ``errcode`` must be 0.

Every failure is a ``DeliveryError`` (the notifier retries with backoff); its message never
holds a secret or a robot's URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from alerts.notify.settings import NotifySettings
from core.times import format_ms
from store.notifications import Recipient

WECOM_MAX_BYTES = 4096


class DeliveryError(Exception):
    """The channel did not take the message (why, without secrets)."""


@dataclass(frozen=True)
class Item:
    """One notification of a message: the event and the alert as decided."""

    event: str
    alert: dict[str, Any]


EVENT_WORDS = {"open": "opened", "close": "closed", "escalate": "not acknowledged (escalated)"}


def line_of(item: Item) -> str:
    a = item.alert
    where = "/".join(x for x in (a["enterprise"], a["outlet"], a["pollutant"]) if x)
    multiple = a.get("peak_multiple")
    peak = f", peak {multiple:.2f}x over the limit" if isinstance(multiple, float) else ""
    return (f"{a['kind']} at {where}, severity {a['severity']}, "
            f"{EVENT_WORDS.get(item.event, item.event)}; since {format_ms(a['start_ms'])}"
            f"{peak} (alert {a['id']})")


def subject_of(items: list[Item]) -> str:
    if len(items) == 1:
        a = items[0].alert
        return (f"[EMS] {a['kind']} {a['enterprise']} {a['severity']} "
                f"{EVENT_WORDS.get(items[0].event, items[0].event)}")
    return f"[EMS] {len(items)} alert notifications"


def text_of(items: list[Item]) -> str:
    return "\n".join(f"- {line_of(i)}" for i in items)


def send_email(s: NotifySettings, to: str, items: list[Item]) -> None:
    msg = EmailMessage()
    msg["From"] = s.notify_mail_from
    msg["To"] = to
    msg["Subject"] = subject_of(items)
    msg.set_content(text_of(items) + "\n")
    try:
        with smtplib.SMTP(s.notify_smtp_host, s.notify_smtp_port,
                          timeout=s.notify_timeout_s) as smtp:
            if s.notify_smtp_starttls:
                smtp.starttls()
            if s.notify_smtp_user and s.notify_smtp_password is not None:
                smtp.login(s.notify_smtp_user, s.notify_smtp_password.get_secret_value())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}") from None


def webhook_signature(secret: str, timestamp_ms: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(mac.digest()))


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str],
          robot: bool) -> None:
    try:
        r = client.post(url, content=body, headers={"Content-Type": "application/json",
                                                    **headers})
    except httpx.HTTPError as exc:
        raise DeliveryError(f"HTTP: {type(exc).__name__}") from None
    if r.status_code >= 300:
        raise DeliveryError(f"HTTP {r.status_code}")
    if robot:
        try:
            code = r.json().get("errcode")
        except (ValueError, AttributeError):
            raise DeliveryError("robot: the answer is not JSON") from None
        if code != 0:
            raise DeliveryError(f"robot: errcode {code}")


def send_webhook(client: httpx.Client, r: Recipient, items: list[Item], now_ms: int) -> None:
    body = json.dumps({"notifications": [{"event": i.event, "alert": i.alert}
                                         for i in items]}, ensure_ascii=False).encode()
    headers = {}
    if r.secret:
        headers = {"X-EMS-Timestamp": str(now_ms),
                   "X-EMS-Signature": webhook_signature(r.secret, now_ms, body)}
    _post(client, r.address, body, headers, robot=False)


def send_dingtalk(client: httpx.Client, r: Recipient, items: list[Item], now_ms: int) -> None:
    url = r.address
    if r.secret:
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}timestamp={now_ms}&sign={dingtalk_sign(r.secret, now_ms)}"
    title = subject_of(items)
    body = {"msgtype": "markdown",
            "markdown": {"title": title, "text": f"### {title}\n\n{text_of(items)}"}}
    _post(client, url, json.dumps(body, ensure_ascii=False).encode(), {}, robot=True)


def send_wecom(client: httpx.Client, r: Recipient, items: list[Item]) -> None:
    content = f"### {subject_of(items)}\n{text_of(items)}"
    raw = content.encode()
    if len(raw) > WECOM_MAX_BYTES:
        content = raw[:WECOM_MAX_BYTES - 3].decode(errors="ignore") + "..."
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    _post(client, r.address, json.dumps(body, ensure_ascii=False).encode(), {}, robot=True)


def deliver(s: NotifySettings, client: httpx.Client, r: Recipient, items: list[Item],
            now_ms: int) -> None:
    """Send ``items`` as one message to ``r``; DeliveryError when the channel refused."""
    if r.channel == "email":
        send_email(s, r.address, items)
    elif r.channel == "webhook":
        send_webhook(client, r, items, now_ms)
    elif r.channel == "dingtalk":
        send_dingtalk(client, r, items, now_ms)
    else:
        send_wecom(client, r, items)
