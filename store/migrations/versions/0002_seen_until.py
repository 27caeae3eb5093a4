"""Alert workflow: ``seen_until_ms``, the end of the part of an active alert that was resolved.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_workflow") as batch:
        batch.add_column(sa.Column("seen_until_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_workflow") as batch:
        batch.drop_column("seen_until_ms")
