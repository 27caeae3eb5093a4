"""Access audit trail (hash-chained batches of audited reads, changes and denied attempts);
recipients of alert notifications and the notifications decided and sent.

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "audit_batch",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False))
    op.create_index("ix_audit_batch_at_ms", "audit_batch", ["at_ms"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("batch_seq", sa.BigInteger(),
                  sa.ForeignKey("audit_batch.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(ID), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("scope", sa.String(1024), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("method", sa.String(8), nullable=True),
        sa.Column("route", sa.String(256), nullable=True),
        sa.Column("path", sa.String(512), nullable=True),
        sa.Column("query", sa.String(1024), nullable=True),
        sa.Column("enterprise", sa.String(ID), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(1024), nullable=True))
    op.create_index("ix_audit_event_batch_seq", "audit_event", ["batch_seq"])
    op.create_index("ix_audit_event_at_ms", "audit_event", ["at_ms"])
    op.create_index("ix_audit_event_enterprise_at", "audit_event", ["enterprise", "at_ms"])
    op.create_index("ix_audit_event_key_at", "audit_event", ["key_id", "at_ms"])
    op.create_table(
        "notify_recipient",
        sa.Column("recipient_id", sa.String(ID), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("enterprise", sa.String(ID), nullable=True),
        sa.Column("regions", sa.String(1024), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(1024), nullable=False),
        sa.Column("secret", sa.String(256), nullable=True),
        sa.Column("kinds", sa.String(512), nullable=False),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("quiet", sa.String(16), nullable=False),
        sa.Column("digest", sa.Integer(), nullable=False))
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("dedup", sa.String(256), nullable=False, unique=True),
        sa.Column("alert_id", sa.String(ID), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("recipient_id", sa.String(ID), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("digest", sa.Integer(), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(512), nullable=True),
        sa.Column("sent_ms", sa.BigInteger(), nullable=True))
    op.create_index("ix_notification_alert_id", "notification", ["alert_id"])
    op.create_index("ix_notification_due_ms", "notification", ["due_ms"])
    op.create_index("ix_notification_sent_ms", "notification", ["sent_ms"])


def downgrade() -> None:
    op.drop_table("notification")
    op.drop_table("notify_recipient")
    op.drop_table("audit_event")
    op.drop_table("audit_batch")
