"""Recipients of alert notifications and the notifications decided, in the records database.

A notification is a row before it is sent: deciding inserts it (``dedup`` = alert, event and
recipient is unique, so one episode gives one opening and one closing notification per
recipient however often the notifier looks), sending stamps ``sent_ms`` after the channel took
it. A process killed between the two sends again on restart: at least once, never lost. Each
notification sent is also an event of the audit trail (store.audit), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.audit import AuditEvent, append_in
from store.records import NotificationRow, RecipientRow
from store.sql import Records, write_lock

CHANNELS = ("email", "webhook", "dingtalk", "wecom")
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Recipient:
    recipient_id: str
    name: str
    role: str  # inspector, enterprise
    channel: str
    address: str
    enterprise: str | None = None
    regions: tuple[str, ...] = ()  # an inspector's; () = all
    secret: str | None = None
    kinds: tuple[str, ...] = ()  # () = every kind
    min_severity: str = "low"
    level: int = 1
    quiet: str = ""  # local "HH:MM-HH:MM"
    digest: bool = False

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"{self.recipient_id}: channel must be one of {CHANNELS}")
        if self.min_severity not in SEVERITIES:
            raise ValueError(f"{self.recipient_id}: min_severity must be one of {SEVERITIES}")
        if self.role not in ("inspector", "enterprise"):
            raise ValueError(f"{self.recipient_id}: role must be inspector or enterprise")
        if self.role == "enterprise" and not self.enterprise:
            raise ValueError(f"{self.recipient_id}: an enterprise contact names its enterprise")

    def __repr__(self) -> str:  # never the secret, nor a URL that may hold a robot's key
        return f"Recipient({self.recipient_id!r}, {self.channel})"


@dataclass(frozen=True)
class Decision:
    alert_id: str
    event: str  # open, close, escalate
    recipient_id: str
    channel: str
    due_ms: int
    payload: str
    digest: bool = False

    @property
    def dedup(self) -> str:
        return f"{self.alert_id}|{self.event}|{self.recipient_id}"


@dataclass(frozen=True)
class Pending:
    id: int
    alert_id: str
    event: str
    recipient_id: str
    channel: str
    digest: bool
    due_ms: int
    payload: str
    attempts: int


def _recipient(r: RecipientRow) -> Recipient:
    return Recipient(r.recipient_id, r.name, r.role, r.channel, r.address, r.enterprise,
                     tuple(x for x in r.regions.split(",") if x), r.secret,
                     tuple(x for x in r.kinds.split(",") if x), r.min_severity, r.level,
                     r.quiet, bool(r.digest))


def replace_recipients(records: Records, recipients: Sequence[Recipient], by: str,
                       now_ms: int) -> None:
    """Make ``recipients`` the whole list (recorded in the audit trail, without secrets)."""
    with records.session() as s:
        s.execute(delete(RecipientRow))
        for r in recipients:
            s.add(RecipientRow(recipient_id=r.recipient_id, name=r.name, role=r.role,
                               enterprise=r.enterprise, regions=",".join(sorted(r.regions)),
                               channel=r.channel, address=r.address, secret=r.secret,
                               kinds=",".join(sorted(r.kinds)), min_severity=r.min_severity,
                               level=r.level, quiet=r.quiet, digest=int(r.digest)))
        append_in(s, [AuditEvent(now_ms, "recipients.loaded", detail=f"{by}: "
                                 f"{len(recipients)} recipients")], now_ms)


def recipients(records: Records) -> list[Recipient]:
    with records.session() as s:
        rows = s.scalars(select(RecipientRow).order_by(RecipientRow.recipient_id)).all()
        return [_recipient(r) for r in rows]


def decided(records: Records, alert_ids: Iterable[str]) -> set[str]:
    """The dedup keys of the notifications already decided for these alerts."""
    ids = sorted(set(alert_ids))
    out: set[str] = set()
    with records.session() as s:
        for i in range(0, len(ids), 500):
            out.update(s.scalars(select(NotificationRow.dedup)
                                 .where(NotificationRow.alert_id.in_(ids[i:i + 500]))))
    return out


def decide(records: Records, decisions: Sequence[Decision], now_ms: int) -> int:
    """Insert the decisions not yet made (one transaction, serialised); how many were new."""
    if not decisions:
        return 0
    with records.session() as s:
        write_lock(s, "notifications")
        known = set(s.scalars(select(NotificationRow.dedup).where(
            NotificationRow.alert_id.in_(sorted({d.alert_id for d in decisions})))))
        new = [d for d in decisions if d.dedup not in known]
        for d in new:
            s.add(NotificationRow(dedup=d.dedup, alert_id=d.alert_id, event=d.event,
                                  recipient_id=d.recipient_id, channel=d.channel,
                                  digest=int(d.digest), decided_ms=now_ms, due_ms=d.due_ms,
                                  payload=d.payload, attempts=0))
        return len(new)


def due(records: Records, now_ms: int, limit: int = 500) -> list[Pending]:
    """Notifications not yet sent whose time has come, oldest first."""
    with records.session() as s:
        rows = s.scalars(select(NotificationRow)
                         .where(NotificationRow.sent_ms.is_(None),
                                NotificationRow.due_ms <= now_ms)
                         .order_by(NotificationRow.due_ms, NotificationRow.id)
                         .limit(limit)).all()
        return [Pending(r.id, r.alert_id, r.event, r.recipient_id, r.channel,
                        bool(r.digest), r.due_ms, r.payload, r.attempts) for r in rows]


def _sent_in(s: Session, ids: Sequence[int], now_ms: int) -> None:
    s.execute(update(NotificationRow).where(NotificationRow.id.in_(ids))
              .values(sent_ms=now_ms, attempts=NotificationRow.attempts + 1))


def mark_sent(records: Records, sent: Sequence[Pending], recipient: Recipient,
              now_ms: int) -> None:
    """Stamp these notifications (one message to ``recipient``) sent, and audit it."""
    with records.session() as s:
        _sent_in(s, [p.id for p in sent], now_ms)
        append_in(s, [AuditEvent(now_ms, "notification.sent", role=recipient.role,
                                 scope=recipient.enterprise or ",".join(recipient.regions)
                                 or None, route=recipient.channel, rows=len(sent),
                                 detail=f"{recipient.recipient_id} {p.event} {p.alert_id}")
                      for p in sent], now_ms)


def mark_failed(records: Records, failed: Sequence[Pending], error: str, retry_ms: int
                ) -> None:
    """Count a failed attempt and try again at ``retry_ms``."""
    with records.session() as s:
        s.execute(update(NotificationRow)
                  .where(NotificationRow.id.in_([p.id for p in failed]))
                  .values(attempts=NotificationRow.attempts + 1, last_error=error[:512],
                          due_ms=retry_ms))


@dataclass(frozen=True)
class Sent:
    alert_id: str
    event: str
    recipient_id: str
    sent_ms: int | None
    attempts: int


def history(records: Records, alert_id: str | None = None) -> list[Sent]:
    """The notifications decided (sent or not), in the order decided."""
    stmt = select(NotificationRow).order_by(NotificationRow.id)
    if alert_id is not None:
        stmt = stmt.where(NotificationRow.alert_id == alert_id)
    with records.session() as s:
        return [Sent(r.alert_id, r.event, r.recipient_id, r.sent_ms, r.attempts)
                for r in s.scalars(stmt)]
