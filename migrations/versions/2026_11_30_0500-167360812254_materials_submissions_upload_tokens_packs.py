"""materials: submissions (versions), upload tokens, session packs, deadline override, late flag

Revision ID: 167360812254
Revises: 74ca28d2e624
Create Date: 2026-11-30 04:18:30.397447+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coordinator.db

revision: str = "167360812254"
down_revision: str | None = "74ca28d2e624"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "session_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", coordinator.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", coordinator.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("built_at", coordinator.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("submitted", sa.Integer(), nullable=True),
        sa.Column("missing", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'claimed', 'built', 'dropped')",
            name=op.f("ck_session_packs_status_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_session_packs_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_session_packs_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_packs")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_packs_session_id")),
    )
    with op.batch_alter_table("session_packs", schema=None) as batch_op:
        batch_op.create_index("ix_session_packs_status_due_at", ["status", "due_at"], unique=False)

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("presentation_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_type", sa.String(length=16), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", coordinator.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('link', 'organizer')", name=op.f("ck_submissions_channel_known")
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_submissions_sha256_hex")),
        sa.CheckConstraint("size > 0", name=op.f("ck_submissions_size_positive")),
        sa.CheckConstraint("version > 0", name=op.f("ck_submissions_version_positive")),
        sa.ForeignKeyConstraint(
            ["presentation_id"],
            ["presentations.id"],
            name=op.f("fk_submissions_presentation_id_presentations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["delegates.id"],
            name=op.f("fk_submissions_uploaded_by_id_delegates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "presentation_id", "version", name=op.f("uq_submissions_presentation_id_version")
        ),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submissions_presentation_id"), ["presentation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_submissions_sha256"), ["sha256"], unique=False)

    op.create_table(
        "upload_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("presentation_id", sa.Integer(), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", coordinator.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", coordinator.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('upload')", name=op.f("ck_upload_tokens_purpose_known")),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_upload_tokens_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["presentation_id"],
            ["presentations.id"],
            name=op.f("fk_upload_tokens_presentation_id_presentations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_tokens")),
        sa.UniqueConstraint("nonce", name=op.f("uq_upload_tokens_nonce")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_upload_tokens_token_hash")),
    )
    with op.batch_alter_table("upload_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_upload_tokens_delegate_id"), ["delegate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_upload_tokens_presentation_id"), ["presentation_id"], unique=False
        )

    with op.batch_alter_table("presentations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late_submissions", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "materials_deadline", coordinator.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("materials_deadline")

    with op.batch_alter_table("presentations", schema=None) as batch_op:
        batch_op.drop_column("late_submissions")

    with op.batch_alter_table("upload_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_tokens_presentation_id"))
        batch_op.drop_index(batch_op.f("ix_upload_tokens_delegate_id"))

    op.drop_table("upload_tokens")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_sha256"))
        batch_op.drop_index(batch_op.f("ix_submissions_presentation_id"))

    op.drop_table("submissions")
    with op.batch_alter_table("session_packs", schema=None) as batch_op:
        batch_op.drop_index("ix_session_packs_status_due_at")

    op.drop_table("session_packs")
