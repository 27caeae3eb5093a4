"""Day reviews: an inspector confirms an enterprise's published day (public tier).

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "day_review",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("enterprise", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("reviewed_ms", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.UniqueConstraint("enterprise", "day", name="uq_day_review"),
    )


def downgrade() -> None:
    op.drop_table("day_review")
