"""Records: API keys, alert workflow and notes, marks, registry loads, revoked sessions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("key_id", sa.String(ID), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("enterprise", sa.String(ID), nullable=True),
        sa.Column("regions", sa.String(1024), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "alert_workflow",
        sa.Column("alert_id", sa.String(ID), primary_key=True),
        sa.Column("enterprise", sa.String(ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger(), nullable=True),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("explained_ms", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False))
    op.create_index("ix_alert_workflow_enterprise", "alert_workflow", ["enterprise"])
    op.create_table(
        "alert_note",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(ID),
                  sa.ForeignKey("alert_workflow.alert_id", ondelete="CASCADE"), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False))
    op.create_index("ix_alert_note_alert_id", "alert_note", ["alert_id"])
    op.create_table(
        "mark",
        sa.Column("mark_id", sa.String(ID), primary_key=True),
        sa.Column("enterprise", sa.String(ID), nullable=False),
        sa.Column("outlet", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_by", sa.String(128), nullable=False),
        sa.Column("declared_ms", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_ms", sa.BigInteger(), nullable=True),
        sa.Column("withdrawn_by", sa.String(128), nullable=True))
    op.create_index("ix_mark_outlet_start", "mark", ["enterprise", "outlet", "start_ms"])
    op.create_table(
        "registry_load",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("loaded_ms", sa.BigInteger(), nullable=False),
        sa.Column("loaded_by", sa.String(128), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("enterprises", sa.Integer(), nullable=False),
        sa.Column("outlets", sa.Integer(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.UniqueConstraint("sha256", "loaded_ms", name="uq_registry_load"))
    op.create_table(
        "revoked_session",
        sa.Column("session_id", sa.String(ID), primary_key=True),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False))
    op.create_index("ix_revoked_session_expires_ms", "revoked_session", ["expires_ms"])


def downgrade() -> None:
    for index, table in (("ix_revoked_session_expires_ms", "revoked_session"),
                         ("ix_mark_outlet_start", "mark"),
                         ("ix_alert_note_alert_id", "alert_note"),
                         ("ix_alert_workflow_enterprise", "alert_workflow")):
        op.drop_index(index, table_name=table)
    for table in ("revoked_session", "registry_load", "mark", "alert_note", "alert_workflow",
                  "api_key"):
        op.drop_table(table)
