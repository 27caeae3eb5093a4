"""The tables of the records database (SQLAlchemy 2 declarative models).

Times are integer epoch milliseconds (UTC), as everywhere in the service. Histories are kept by
appending rows, never by rewriting one: an alert's notes are rows of ``alert_note``, a mark is
withdrawn by stamping it (the row stays), every registry load is a row of ``registry_load``.
The schema is created and changed only by the migrations in ``store/migrations`` (a test checks
that they and these models agree).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
