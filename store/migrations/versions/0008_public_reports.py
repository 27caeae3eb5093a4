"""Public reports (举报): the reports, their history (status moves, notes, responses) and
their photos.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "public_report",
        sa.Column("ticket", sa.String(16), primary_key=True),
        sa.Column("group_ticket", sa.String(16), nullable=False),
        sa.Column("enterprise", sa.String(ID), nullable=True),
        sa.Column("region", sa.String(ID), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("submitted_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(ID), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("has_photo", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False))
    op.create_index("ix_public_report_group_ticket", "public_report", ["group_ticket"])
    op.create_index("ix_public_report_submitted_ms", "public_report", ["submitted_ms"])
    op.create_index("ix_public_report_enterprise_event", "public_report",
                    ["enterprise", "event_ms"])
    op.create_index("ix_public_report_kind_event", "public_report", ["kind", "event_ms"])
    op.create_table(
        "public_report_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket", sa.String(16),
                  sa.ForeignKey("public_report.ticket", ondelete="CASCADE"), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True))
    op.create_index("ix_public_report_event_ticket", "public_report_event", ["ticket"])
    op.create_table(
        "public_report_photo",
        sa.Column("ticket", sa.String(16),
                  sa.ForeignKey("public_report.ticket", ondelete="CASCADE"), primary_key=True),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False))


def downgrade() -> None:
    op.drop_table("public_report_photo")
    op.drop_table("public_report_event")
    op.drop_table("public_report")
