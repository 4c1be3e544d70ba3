"""attendances: each delegate's latest RSVP (iTIP REPLY) per session

Revision ID: 74ca28d2e624
Revises: 9aa9b288ba45
Create Date: 2026-11-30 04:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coordinator.db

revision: str = "74ca28d2e624"
down_revision: str | None = "9aa9b288ba45"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attendances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=False),
        sa.Column("partstat", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("replied_at", coordinator.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "partstat IN ('ACCEPTED', 'DECLINED', 'TENTATIVE', 'NEEDS-ACTION', 'DELEGATED')",
            name=op.f("ck_attendances_partstat_known"),
        ),
        sa.CheckConstraint("sequence >= 0", name=op.f("ck_attendances_sequence_non_negative")),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_attendances_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_attendances_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendances")),
        sa.UniqueConstraint(
            "session_id", "delegate_id", name=op.f("uq_attendances_session_id_delegate_id")
        ),
    )
    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendances_delegate_id"), ["delegate_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendances_delegate_id"))
    op.drop_table("attendances")
