"""The tables of the records database (SQLAlchemy 2 declarative models).

Times are integer epoch milliseconds (UTC), as everywhere in the service. Histories are kept by
appending rows, never by rewriting one: an alert's notes are rows of ``alert_note``, a mark is
withdrawn by stamping it (the row stays), every registry load is a row of ``registry_load``.
The schema is created and changed only by the migrations in ``store/migrations`` (a test checks
that they and these models agree).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = 64  # identifiers: enterprise, outlet, key and alert ids are far shorter


class Base(DeclarativeBase):
    pass


class ApiKeyRow(Base):
    """An API key: only its SHA-256 is kept, never the key."""

    __tablename__ = "api_key"
    key_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    enterprise: Mapped[str | None] = mapped_column(String(ID))
    regions: Mapped[str] = mapped_column(String(1024), default="")  # comma-separated, sorted
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class AlertWorkflowRow(Base):
    """What people decided about one alert episode (the episode itself is a time series in
    InfluxDB, written by the scheduler). ``version`` grows with every status move, so two
    inspectors moving one alert at once cannot both succeed from the same state."""

    __tablename__ = "alert_workflow"
    alert_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    enterprise: Mapped[str] = mapped_column(String(ID), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    acknowledged_ms: Mapped[int | None] = mapped_column(BigInteger)
    resolved_ms: Mapped[int | None] = mapped_column(BigInteger)
    explanation: Mapped[str | None] = mapped_column(Text)
    explained_ms: Mapped[int | None] = mapped_column(BigInteger)
    # Resolved while the episode was still active: the end of the part seen (the scheduler
    # ends the alert there and opens one that follows it, alerts.rules.splits).
    seen_until_ms: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=0)


class AlertNoteRow(Base):
    """One note on an alert: appended, never edited."""

    __tablename__ = "alert_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("alert_workflow.alert_id", ondelete="CASCADE"), index=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class MarkRow(Base):
    """An operating-state mark declared by an enterprise (MEE 2022 marking rules); withdrawn by
    stamping ``withdrawn_ms``, never edited."""

    __tablename__ = "mark"
    __table_args__ = (Index("ix_mark_outlet_start", "enterprise", "outlet", "start_ms"),)
    mark_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    enterprise: Mapped[str] = mapped_column(String(ID))
    outlet: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(32))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(String(128))
    declared_ms: Mapped[int] = mapped_column(BigInteger)
    withdrawn_ms: Mapped[int | None] = mapped_column(BigInteger)
    withdrawn_by: Mapped[str | None] = mapped_column(String(128))


class RegistryLoadRow(Base):
    """Who loaded which registry file into the service, and when."""

    __tablename__ = "registry_load"
    __table_args__ = (UniqueConstraint("sha256", "loaded_ms", name="uq_registry_load"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loaded_ms: Mapped[int] = mapped_column(BigInteger)
    loaded_by: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    enterprises: Mapped[int] = mapped_column(Integer)
    outlets: Mapped[int] = mapped_column(Integer)
    devices: Mapped[int] = mapped_column(Integer)


class RevokedSessionRow(Base):
    """A web session ended by logout before its cookie expired."""

    __tablename__ = "revoked_session"
    session_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revoked_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditBatchRow(Base):
    """One batch of the access audit trail: ``hash`` covers the batch's events and the hash of
    the batch before it (``prev_hash``), so a changed, removed or inserted record breaks the
    chain (store.audit). Appended, never edited."""

    __tablename__ = "audit_batch"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    n_events: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditEventRow(Base):
    """One audited read, change or denied attempt: who (key id, role, scope; never the key),
    from where, what (route, parameters), how many rows went out and the outcome."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_enterprise_at", "enterprise", "at_ms"),
                      Index("ix_audit_event_key_at", "key_id", "at_ms"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    batch_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_batch.seq", ondelete="CASCADE"), index=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(32))  # read, change, denied, key.created ...
    key_id: Mapped[str | None] = mapped_column(String(ID))
    role: Mapped[str | None] = mapped_column(String(16))
    scope: Mapped[str | None] = mapped_column(String(1024))  # enterprise or regions of the key
    client: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(8))
    route: Mapped[str | None] = mapped_column(String(256))
    path: Mapped[str | None] = mapped_column(String(512))
    query: Mapped[str | None] = mapped_column(String(1024))
    enterprise: Mapped[str | None] = mapped_column(String(ID))  # whose data, when one's
    rows: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(1024))


class RecipientRow(Base):
    """Who is notified of alerts, how and of which (alerts.notify); ``secret`` signs robot
    webhooks (DingTalk) and generic webhooks, and is never logged."""

    __tablename__ = "notify_recipient"
    recipient_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # inspector or enterprise (a contact)
    enterprise: Mapped[str | None] = mapped_column(String(ID))
    regions: Mapped[str] = mapped_column(String(1024), default="")  # comma-separated; "": all
    channel: Mapped[str] = mapped_column(String(16))  # email, webhook, dingtalk, wecom
    address: Mapped[str] = mapped_column(String(1024))  # e-mail address or URL
    secret: Mapped[str | None] = mapped_column(String(256))
    kinds: Mapped[str] = mapped_column(String(512), default="")  # comma-separated; "": all
    min_severity: Mapped[str] = mapped_column(String(16), default="low")
    level: Mapped[int] = mapped_column(Integer, default=1)  # 1 first; 2, 3 on escalation
    quiet: Mapped[str] = mapped_column(String(16), default="")  # local "22:00-07:00"; "": none
    digest: Mapped[int] = mapped_column(Integer, default=0)  # 1: low severities in a digest


class NotificationRow(Base):
    """A notification decided (one per alert, event and recipient: ``dedup`` is unique), then
    sent at least once: ``sent_ms`` is stamped only after the channel took it."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    dedup: Mapped[str] = mapped_column(String(256), unique=True)
    alert_id: Mapped[str] = mapped_column(String(ID), index=True)
    event: Mapped[str] = mapped_column(String(16))  # open, close, escalate
    recipient_id: Mapped[str] = mapped_column(String(ID))
    channel: Mapped[str] = mapped_column(String(16))
    digest: Mapped[int] = mapped_column(Integer, default=0)
    decided_ms: Mapped[int] = mapped_column(BigInteger)
    due_ms: Mapped[int] = mapped_column(BigInteger, index=True)  # after quiet hours, digests
    payload: Mapped[str] = mapped_column(Text)  # the alert as JSON, as it was decided
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(512))
    sent_ms: Mapped[int | None] = mapped_column(BigInteger, index=True)
class ReportRow(Base):
    """One issued version of a report: its content (canonical JSON) and that content's SHA-256,
    who issued it and when; a correction is a new row with the next ``version`` and its
    ``reason``, never an edit of an older one."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("report_id", "version", name="uq_report_version"),
                      Index("ix_report_subject", "enterprise", "kind", "start_ms"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(String(ID))  # of (kind, enterprise, outlet, period)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))  # day, month, quarter, year
    label: Mapped[str] = mapped_column(String(16))  # 2025-11-01, 2025-11, 2025-Q4, 2025
    enterprise: Mapped[str] = mapped_column(String(ID))
    outlet: Mapped[str | None] = mapped_column(String(ID))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    issued_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)  # of a correction (version > 1)


class DayReviewRow(Base):
    """An inspector's confirmation that an enterprise's published day was reviewed: appended,
    never edited; the public tier labels that day "reviewed" (issue 14, data tiers)."""

    __tablename__ = "day_review"
    __table_args__ = (UniqueConstraint("enterprise", "day", name="uq_day_review"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise: Mapped[str] = mapped_column(String(ID))
    day: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    reviewed_ms: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(128))


class PublicReportRow(Base):
    """A report from the public (举报, issue 14): about an enterprise or a place, with the
    SHA-256 of its private follow token (never the token). ``group_ticket`` is the ticket of
    the first open report of its duplicates (its own ticket when it leads); ``version`` grows
    with every status move, so of two moves from one state only one succeeds."""

    __tablename__ = "public_report"
    __table_args__ = (Index("ix_public_report_enterprise_event", "enterprise", "event_ms"),
                      Index("ix_public_report_kind_event", "kind", "event_ms"))
    ticket: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_ticket: Mapped[str] = mapped_column(String(16), index=True)
    enterprise: Mapped[str | None] = mapped_column(String(ID))
    region: Mapped[str | None] = mapped_column(String(ID))  # whose inspectors see it
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    event_ms: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64))
    submitted_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    assignee: Mapped[str | None] = mapped_column(String(ID))  # an inspector's key id
    finding: Mapped[str | None] = mapped_column(Text)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)
    has_photo: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)


class PublicReportEventRow(Base):
    """One step of a public report's history, appended, never edited: a status move
    (received, assigned, investigating, closed), an inspector's note or the enterprise's
    response (``action``), who made it (role:key id; "public" for the reporter) and when."""

    __tablename__ = "public_report_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket: Mapped[str] = mapped_column(
        String(16), ForeignKey("public_report.ticket", ondelete="CASCADE"), index=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))  # status, note, response
    status: Mapped[str] = mapped_column(String(16))  # the report's status after the step
    text: Mapped[str | None] = mapped_column(Text)


class PublicReportPhotoRow(Base):
    """A report's photo, re-encoded as JPEG without metadata (core.photos): kept in the records
    database beside its report, so one backup and every replica hold both."""

    __tablename__ = "public_report_photo"
    ticket: Mapped[str] = mapped_column(
        String(16), ForeignKey("public_report.ticket", ondelete="CASCADE"), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
